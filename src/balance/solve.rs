//! The solver: per-stratum weights that meet every dimension's targets at once.
//!
//! 1. **Targets** per dimension from its strategy, over the selected corpus's sizes.
//! 2. **Feasibility**, by a documented rule: a value's share is bounded above by `max_share`
//!    and by what its documents can give (`max_repeats` × its size), below by `min_share`.
//!    Targets outside their bounds are clamped and the difference is spread over the other
//!    values in proportion to their targets (water-filling), so shares still sum to 1. If the
//!    bounds leave no room for the budget (every value at its repeat cap is still short), the
//!    budget shrinks to what the caps allow. Every move is reported, with its cause.
//! 3. **Raking** (iterative proportional fitting) of the cell weights over the marginals, with
//!    each cell's weight capped by its repeat limits. If the joint targets still cannot be met
//!    within tolerance (marginals that are feasible one by one but not together under the
//!    caps), the policy is infeasible: an error that lists the misses, never a half-applied
//!    plan.

use std::collections::BTreeMap;

use super::policy::{Policy, Strategy, Unit};
use super::strata::{Cell, Strata};

/// Achieved shares must be within this of the (feasible) targets.
pub const TOLERANCE: f64 = 0.005;

#[derive(Debug, Clone, serde::Serialize)]
pub struct ValuePlan {
    pub value: String,
    pub docs: u64,
    /// Size in the budget's unit.
    pub size: f64,
    pub current: f64,
    /// The policy's target share, before feasibility.
    pub asked: f64,
    pub target: f64,
    pub achieved: f64,
    /// Share of documents (counting repeats) in the balanced corpus.
    pub achieved_docs: f64,
    /// Balanced size / current size.
    pub weight: f64,
    pub min_weight: f64,
    pub max_weight: f64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct DimensionPlan {
    pub name: String,
    pub column: String,
    pub strategy: Strategy,
    pub values: Vec<ValuePlan>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Plan {
    pub unit: Unit,
    /// A human label of the unit, saying when it is an estimate.
    pub unit_label: String,
    pub corpus: f64,
    pub asked_budget: f64,
    pub budget: f64,
    pub dimensions: Vec<DimensionPlan>,
    /// Targets the feasibility rule moved, and why.
    pub moved: Vec<String>,
    /// Names in the policy that match no value in the data.
    pub warnings: Vec<String>,
    /// One weight (expected repeats) per cell, in the strata's cell order.
    pub weights: Vec<f64>,
    pub cells: Vec<Vec<String>>,
    pub iterations: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum SolveError {
    #[error("the policy cannot be met: {0}")]
    Infeasible(String),
    #[error("{0}")]
    Invalid(String),
}

fn unit_size(c: &Cell, unit: Unit, chars_per_token: f64) -> f64 {
    match unit {
        Unit::Documents => c.size.docs as f64,
        Unit::Chars => c.size.chars as f64,
        Unit::Words => c.size.words as f64,
        Unit::Tokens => c.size.chars as f64 / chars_per_token,
    }
}

pub fn unit_label(policy: &Policy) -> String {
    match policy.budget.unit {
        Unit::Documents => "documents".into(),
        Unit::Chars => "characters".into(),
        Unit::Words => "words".into(),
        Unit::Tokens => format!("tokens (estimated: characters / {})", policy.budget.chars_per_token),
    }
}

/// Plans the weights of the strata under the policy.
pub fn solve(policy: &Policy, strata: &Strata) -> Result<Plan, SolveError> {
    let unit = policy.budget.unit;
    let size: Vec<f64> = strata.cells.iter().map(|c| unit_size(c, unit, policy.budget.chars_per_token)).collect();
    let corpus: f64 = size.iter().sum();
    if strata.cells.is_empty() || corpus <= 0.0 {
        return Err(SolveError::Invalid("no documents left to balance after the selection".into()));
    }
    let dims = policy.dimensions();
    // Per dimension: the values present (sorted), and each cell's value index.
    let mut values: Vec<Vec<String>> = Vec::new();
    let mut index: Vec<Vec<usize>> = Vec::new();
    for k in 0..dims.len() {
        let mut v: Vec<String> = strata.cells.iter().map(|c| c.key[k].clone()).collect();
        v.sort();
        v.dedup();
        index.push(strata.cells.iter().map(|c| v.binary_search(&c.key[k]).expect("a present value")).collect());
        values.push(v);
    }
    // A cell's repeat cap: the global one and every dimension's.
    let cap: Vec<f64> = (0..strata.cells.len())
        .map(|_| dims.iter().filter_map(|(_, _, d)| d.max_repeats).fold(policy.max_repeats, f64::min))
        .collect();
    let marginal = |k: usize, w: &[f64]| -> Vec<f64> {
        let mut m = vec![0.0; values[k].len()];
        for (c, &v) in index[k].iter().enumerate() {
            m[v] += size[c] * w[c];
        }
        m
    };
    let ones = vec![1.0; size.len()];
    let mut warnings = Vec::new();
    let mut moved = Vec::new();
    let asked_budget = policy.budget.total.unwrap_or(corpus);
    let mut budget = asked_budget;
    // What each value can give at most (all its documents at their caps).
    let capacity: Vec<Vec<f64>> = (0..dims.len()).map(|k| marginal(k, &cap)).collect();
    let total_capacity: f64 = size.iter().zip(&cap).map(|(s, c)| s * c).sum();
    if budget > total_capacity * (1.0 + 1e-12) {
        moved.push(format!(
            "budget: {} → {} {} (every document at its repeat cap)",
            fmt_num(budget),
            fmt_num(total_capacity),
            unit_label(policy)
        ));
        budget = total_capacity;
    }
    let mut asked: Vec<Vec<f64>> = Vec::new();
    for (k, (name, _, d)) in dims.iter().enumerate() {
        let current = marginal(k, &ones);
        asked.push(targets(name, d, &values[k], &current, budget, &mut warnings)?);
    }
    // A max_share that the values present cannot satisfy together (n × max_share < 1) is
    // raised to 1/n: every value at the same share is the closest the data allows.
    let mut max_share: Vec<f64> = Vec::new();
    for (k, (name, _, d)) in dims.iter().enumerate() {
        let n = values[k].len() as f64;
        let m = d.max_share.unwrap_or(1.0);
        if m * n < 1.0 - 1e-12 {
            moved.push(format!(
                "{name}: max_share {m} → {:.4} (only {n} values, which cannot all stay below {m})",
                1.0 / n
            ));
            max_share.push(1.0 / n);
        } else {
            max_share.push(m);
        }
    }
    // Feasibility per dimension: bounds, then water-filling; the budget shrinks if needed.
    let mut target: Vec<Vec<f64>> = Vec::new();
    // Only the first (highest-priority) dimension may shrink the budget; the others' targets
    // that their documents cannot fill at this budget are left to the conflict rule below.
    for _round in 0..2 {
        target.clear();
        let mut shrink = budget;
        for (k, (_, _, d)) in dims.iter().enumerate() {
            let hi: Vec<f64> = capacity[k].iter().map(|c| (c / budget).min(max_share[k])).collect();
            let lo: Vec<f64> = hi.iter().map(|h| d.min_share.unwrap_or(0.0).min(*h)).collect();
            if hi.iter().sum::<f64>() < 1.0 - 1e-9 {
                if k == 0 {
                    // The largest budget this dimension allows: Σ min(max_share·B, capacity) = B.
                    shrink = shrink.min(largest_budget(&capacity[k], max_share[k], budget));
                    target.push(water_fill(&asked[k], &lo, &hi));
                } else {
                    let hi_open: Vec<f64> = vec![max_share[k]; hi.len()];
                    target.push(water_fill(&asked[k], &lo, &hi_open));
                }
                continue;
            }
            target.push(water_fill(&asked[k], &lo, &hi));
        }
        if shrink < budget * (1.0 - 1e-9) {
            if shrink <= 0.0 {
                return Err(SolveError::Infeasible("the caps leave no room for any budget".into()));
            }
            moved.push(format!(
                "budget: {} → {} {} (the first dimension's caps and repeat limits allow no more)",
                fmt_num(budget),
                fmt_num(shrink),
                unit_label(policy)
            ));
            budget = shrink;
            continue;
        }
        break;
    }
    // Why each value's target moved (reported once, from asked to final, at the end).
    let mut reasons: Vec<Vec<Vec<String>>> = values.iter().map(|v| vec![Vec::new(); v.len()]).collect();
    for (k, (name, _, d)) in dims.iter().enumerate() {
        let lo_sum: f64 = values[k].iter().map(|_| d.min_share.unwrap_or(0.0)).sum();
        if lo_sum > 1.0 + 1e-9 {
            return Err(SolveError::Infeasible(format!(
                "dimension `{name}`: {} values × min_share {} = {lo_sum:.3} > 1",
                values[k].len(),
                d.min_share.unwrap_or(0.0)
            )));
        }
        for v in 0..values[k].len() {
            let (a, t) = (asked[k][v], target[k][v]);
            if (a - t).abs() > 1e-6 {
                let why = if t + 1e-9 >= capacity[k][v] / budget && t < a {
                    format!("its documents at most {} times over", fmt_num(repeat_cap(&cap, &index[k], v)))
                } else if d.max_share.is_some() && t >= max_share[k] - 1e-9 && t < a {
                    format!("max_share {:.4}", max_share[k])
                } else if d.min_share.is_some_and(|m| t <= m + 1e-9 && t > a) {
                    format!("min_share {}", d.min_share.unwrap_or(0.0))
                } else {
                    "share given to or taken from the values held at a bound".into()
                };
                reasons[k][v].push(why);
            }
        }
    }
    // Raking over the active dimensions' targets, from uniform weights.
    let rake = |target: &[Vec<f64>], active: &[bool], max_iter: usize| -> (Vec<f64>, usize, bool) {
        let scale = budget / corpus;
        let mut w: Vec<f64> = cap.iter().map(|c| scale.min(*c)).collect();
        let miss = |w: &[f64]| -> f64 {
            let mut worst: f64 = 0.0;
            for k in (0..dims.len()).filter(|&k| active[k]) {
                let m = marginal(k, w);
                let tot: f64 = m.iter().sum();
                for v in 0..m.len() {
                    worst = worst.max((m[v] / tot - target[k][v]).abs());
                }
            }
            let tot: f64 = size.iter().zip(w).map(|(s, w)| s * w).sum();
            worst.max((tot - budget).abs() / budget)
        };
        let mut it = 0;
        while it < max_iter && miss(&w) > 1e-7 {
            it += 1;
            let mut any = false;
            for k in (0..dims.len()).filter(|&k| active[k]) {
                any = true;
                let m = marginal(k, &w);
                for (c, &v) in index[k].iter().enumerate() {
                    if m[v] > 0.0 {
                        w[c] = (w[c] * target[k][v] * budget / m[v]).min(cap[c]);
                    }
                }
            }
            if !any {
                break;
            }
        }
        let ok = miss(&w) <= TOLERANCE;
        (w, it, ok)
    };
    let all = vec![true; dims.len()];
    let (mut w, mut iterations, ok) = rake(&target, &all, 2000);
    if !ok {
        // Targets that are feasible one dimension at a time but not together. The documented
        // rule: dimensions keep their targets in priority order; the lowest-priority ones are
        // relaxed until the rest can be met, then each relaxed one is moved back towards its
        // targets as far as it can go (by bisection on the line between what raking without
        // it achieves and what it asked for). With `on_conflict = "fail"` this is an error.
        let report = |w: &[f64], target: &[Vec<f64>]| -> String {
            let mut misses = Vec::new();
            for (k, (name, _, _)) in dims.iter().enumerate() {
                let m = marginal(k, w);
                let tot: f64 = m.iter().sum();
                for v in 0..m.len() {
                    if (m[v] / tot - target[k][v]).abs() > TOLERANCE {
                        misses.push(format!(
                            "{name} = {}: {} for a target of {}",
                            values[k][v],
                            pct(m[v] / tot),
                            pct(target[k][v])
                        ));
                    }
                }
            }
            misses.join("; ")
        };
        if policy.on_conflict == super::policy::OnConflict::Fail || dims.len() < 2 {
            return Err(SolveError::Infeasible(format!(
                "the dimensions' targets cannot be met together under the repeat caps (after {iterations} rounds \
                 of raking): {}. Loosen a cap or a target, or let `on_conflict = \"relax-lower-priority\"` move them",
                report(&w, &target)
            )));
        }
        let mut active = all.clone();
        let mut relaxed = Vec::new();
        for k in (1..dims.len()).rev() {
            active[k] = false;
            relaxed.push(k);
            if rake(&target, &active, 2000).2 {
                break;
            }
        }
        if !rake(&target, &active, 2000).2 {
            return Err(SolveError::Infeasible(format!(
                "even the first dimension's targets cannot be met under the repeat caps: {}",
                report(&w, &target)
            )));
        }
        for &k in relaxed.iter().rev() {
            let (free, _, _) = rake(&target, &active, 2000);
            let m = marginal(k, &free);
            let tot: f64 = m.iter().sum();
            let free_share: Vec<f64> = m.iter().map(|x| x / tot).collect();
            let at = |a: f64| -> Vec<f64> { free_share.iter().zip(&target[k]).map(|(f, t)| f + a * (t - f)).collect() };
            active[k] = true;
            let (mut lo, mut hi) = (0.0, 1.0);
            for _ in 0..12 {
                let mid = (lo + hi) / 2.0;
                let mut t = target.clone();
                t[k] = at(mid);
                if rake(&t, &active, 400).2 {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            let moved_to = at(lo);
            for v in 0..values[k].len() {
                if (moved_to[v] - target[k][v]).abs() > 1e-6 {
                    reasons[k][v].push("in conflict with higher-priority dimensions under the caps".into());
                }
            }
            target[k] = moved_to;
        }
        let (w2, it2, ok2) = rake(&target, &all, 2000);
        if !ok2 {
            return Err(SolveError::Infeasible(format!("raking does not converge: {}", report(&w2, &target))));
        }
        w = w2;
        iterations += it2;
    }
    for (k, (name, _, _)) in dims.iter().enumerate() {
        for v in 0..values[k].len() {
            if (asked[k][v] - target[k][v]).abs() > 0.0005 && !reasons[k][v].is_empty() {
                moved.push(format!(
                    "{name} = {}: {} → {} ({})",
                    values[k][v],
                    pct(asked[k][v]),
                    pct(target[k][v]),
                    reasons[k][v].join("; ")
                ));
            }
        }
    }
    // "fail" refuses every move, not only a conflict between dimensions: a value whose
    // documents cannot fill its share, a budget beyond the caps, a max_share the values cannot
    // all keep (docs/balance.md).
    if policy.on_conflict == super::policy::OnConflict::Fail && !moved.is_empty() {
        return Err(SolveError::Infeasible(format!(
            "the policy cannot be met as written, and on_conflict = \"fail\" does not move it: {}. Loosen a \
             cap or a target, or let `on_conflict = \"relax-lower-priority\"` move them",
            moved.join("; ")
        )));
    }
    let docs: Vec<f64> = strata.cells.iter().map(|c| c.size.docs as f64).collect();
    let mut dim_plans = Vec::new();
    for (k, (name, column, d)) in dims.iter().enumerate() {
        let current = marginal(k, &ones);
        let achieved = marginal(k, &w);
        let tot: f64 = achieved.iter().sum();
        let mut doc_m = vec![0.0; values[k].len()];
        let mut cur_docs = vec![0u64; values[k].len()];
        let (mut lo_w, mut hi_w) = (vec![f64::INFINITY; values[k].len()], vec![0.0f64; values[k].len()]);
        for (c, &v) in index[k].iter().enumerate() {
            doc_m[v] += docs[c] * w[c];
            cur_docs[v] += strata.cells[c].size.docs;
            lo_w[v] = lo_w[v].min(w[c]);
            hi_w[v] = hi_w[v].max(w[c]);
        }
        let doc_tot: f64 = doc_m.iter().sum();
        dim_plans.push(DimensionPlan {
            name: name.clone(),
            column: column.clone(),
            strategy: d.strategy(),
            values: (0..values[k].len())
                .map(|v| ValuePlan {
                    value: values[k][v].clone(),
                    docs: cur_docs[v],
                    size: current[v],
                    current: current[v] / corpus,
                    asked: asked[k][v],
                    target: target[k][v],
                    achieved: achieved[v] / tot,
                    achieved_docs: if doc_tot > 0.0 { doc_m[v] / doc_tot } else { 0.0 },
                    weight: if current[v] > 0.0 { achieved[v] / current[v] } else { 0.0 },
                    min_weight: lo_w[v],
                    max_weight: hi_w[v],
                })
                .collect(),
        });
    }
    Ok(Plan {
        unit,
        unit_label: unit_label(policy),
        corpus,
        asked_budget,
        budget,
        dimensions: dim_plans,
        moved,
        warnings,
        weights: w,
        cells: strata.cells.iter().map(|c| c.key.clone()).collect(),
        iterations,
    })
}

fn repeat_cap(cap: &[f64], index: &[usize], v: usize) -> f64 {
    index.iter().zip(cap).filter(|(i, _)| **i == v).map(|(_, c)| *c).fold(0.0, f64::max)
}

/// The largest budget B with Σ_v min(max_share·B, capacity_v) ≥ B.
fn largest_budget(capacity: &[f64], max_share: f64, upper: f64) -> f64 {
    let (mut lo, mut hi) = (0.0, upper);
    for _ in 0..200 {
        let mid = (lo + hi) / 2.0;
        let room: f64 = capacity.iter().map(|c| (max_share * mid).min(*c)).sum();
        if room >= mid {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

/// Shares `clamp(λ·asked, lo, hi)` summing to 1 (λ by bisection): values held at a bound give
/// or take the difference, which the others share in proportion to what they asked for.
/// Values that asked for nothing stay at their lower bound.
pub fn water_fill(asked: &[f64], lo: &[f64], hi: &[f64]) -> Vec<f64> {
    let at = |l: f64| -> Vec<f64> {
        asked.iter().zip(lo.iter().zip(hi)).map(|(a, (l0, h))| (l * a).clamp(*l0, *h)).collect()
    };
    let sum = |l: f64| at(l).iter().sum::<f64>();
    if sum(1.0) > 1.0 {
        let (mut a, mut b) = (0.0, 1.0);
        for _ in 0..200 {
            let m = (a + b) / 2.0;
            if sum(m) > 1.0 {
                b = m;
            } else {
                a = m;
            }
        }
        return at(a);
    }
    let (mut a, mut b) = (1.0, 2.0);
    while sum(b) < 1.0 && b < 1e12 {
        a = b;
        b *= 2.0;
    }
    for _ in 0..200 {
        let m = (a + b) / 2.0;
        if sum(m) < 1.0 {
            a = m;
        } else {
            b = m;
        }
    }
    at(b)
}

/// A dimension's target shares, one per present value.
fn targets(
    name: &str,
    d: &super::policy::Dimension,
    values: &[String],
    current: &[f64],
    budget: f64,
    warnings: &mut Vec<String>,
) -> Result<Vec<f64>, SolveError> {
    let total: f64 = current.iter().sum();
    let norm = |v: Vec<f64>| {
        let s: f64 = v.iter().sum();
        v.into_iter().map(|x| if s > 0.0 { x / s } else { 0.0 }).collect::<Vec<f64>>()
    };
    Ok(match d.strategy() {
        Strategy::Proportional => current.iter().map(|c| c / total).collect(),
        Strategy::Uniform => vec![1.0 / values.len() as f64; values.len()],
        Strategy::Temperature => {
            let t = d.temperature.unwrap_or(1.0);
            norm(current.iter().map(|c| c.powf(1.0 / t)).collect())
        }
        Strategy::Unimax => {
            let epochs = d.max_epochs.unwrap_or(1.0);
            let mut order: Vec<usize> = (0..values.len()).collect();
            order.sort_by(|&a, &b| current[a].total_cmp(&current[b]).then(a.cmp(&b)));
            let mut left = budget;
            let mut alloc = vec![0.0; values.len()];
            for (n, &v) in order.iter().enumerate() {
                let fair = left / (values.len() - n) as f64;
                alloc[v] = fair.min(epochs * current[v]);
                left -= alloc[v];
            }
            norm(alloc)
        }
        Strategy::Shares => {
            let shares = d.shares.as_ref().expect("validated");
            let mut out = vec![0.0; values.len()];
            let mut rest: Vec<usize> = Vec::new();
            for (i, v) in values.iter().enumerate() {
                match shares.get(v) {
                    Some(s) => out[i] = *s.get_ref(),
                    None => rest.push(i),
                }
            }
            for named in shares.keys().filter(|k| *k != "*" && !values.contains(k)) {
                warnings.push(format!(
                    "dimension `{name}`: `{named}` is not in the data (its share goes to the others){}",
                    closest(named, values).map(|c| format!("; did you mean `{c}`?")).unwrap_or_default()
                ));
            }
            let star = shares.get("*").map(|s| *s.get_ref()).unwrap_or(0.0);
            let rest_size: f64 = rest.iter().map(|&i| current[i]).sum();
            if star > 0.0 && rest.is_empty() {
                warnings.push(format!("dimension `{name}`: \"*\" names no value: every value has its own share"));
            }
            if !rest.is_empty() && star == 0.0 {
                warnings.push(format!(
                    "dimension `{name}`: {} values have no share and are left out: {}",
                    rest.len(),
                    rest.iter().take(5).map(|&i| values[i].as_str()).collect::<Vec<_>>().join(", ")
                ));
            }
            for &i in &rest {
                out[i] = if rest_size > 0.0 { star * current[i] / rest_size } else { 0.0 };
            }
            let s: f64 = out.iter().sum();
            if s <= 0.0 {
                return Err(SolveError::Invalid(format!(
                    "dimension `{name}`: no value present in the data has a share"
                )));
            }
            out.into_iter().map(|x| x / s).collect()
        }
    })
}

/// The closest name by edit distance, when it is close.
fn closest<'a>(name: &str, values: &'a [String]) -> Option<&'a str> {
    let d = |a: &str, b: &str| -> usize {
        let (a, b): (Vec<char>, Vec<char>) = (a.to_lowercase().chars().collect(), b.to_lowercase().chars().collect());
        let mut prev: Vec<usize> = (0..=b.len()).collect();
        for i in 1..=a.len() {
            let mut cur = vec![i; b.len() + 1];
            for j in 1..=b.len() {
                cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + usize::from(a[i - 1] != b[j - 1]));
            }
            prev = cur;
        }
        prev[b.len()]
    };
    values.iter().map(|v| (d(name, v), v)).filter(|(n, _)| *n <= 2.max(name.len() / 3)).min().map(|(_, v)| v.as_str())
}

pub fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

pub fn fmt_num(x: f64) -> String {
    let n = x.round() as u128;
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// The dry-run table: per dimension and value, current share, target, achieved share (in the
/// budget's unit and in documents), weight and repeats.
pub fn render(plan: &Plan) -> String {
    let mut s = format!(
        "budget: {} {}{}; selected corpus: {}\n",
        fmt_num(plan.budget),
        plan.unit_label,
        if (plan.budget - plan.asked_budget).abs() > 0.5 {
            format!(" (asked for {})", fmt_num(plan.asked_budget))
        } else {
            String::new()
        },
        fmt_num(plan.corpus)
    );
    for d in &plan.dimensions {
        let strategy = serde_json::to_value(d.strategy).ok().and_then(|v| v.as_str().map(str::to_string));
        s.push_str(&format!("\n{} (column `{}`, {})\n", d.name, d.column, strategy.unwrap_or_default()));
        let w = d.values.iter().map(|v| v.value.chars().count()).max().unwrap_or(5).clamp(5, 28);
        s.push_str(&format!(
            "  {:<w$} {:>11} {:>8} {:>8} {:>8} {:>8} {:>8}  {}\n",
            "value", "docs", "current", "target", "achieved", "docs", "weight", "repeats"
        ));
        for v in &d.values {
            let name: String = v.value.chars().take(w).collect();
            let repeats = if v.max_weight <= 0.0 {
                "0".to_string()
            } else {
                let (lo, hi) = (v.min_weight.floor() as u64, v.max_weight.ceil() as u64);
                if lo == hi {
                    format!("{lo}")
                } else {
                    format!("{lo}–{hi}")
                }
            };
            s.push_str(&format!(
                "  {:<w$} {:>11} {:>8} {:>8} {:>8} {:>8} {:>8.3}  {}\n",
                name,
                fmt_num(v.docs as f64),
                pct(v.current),
                pct(v.target),
                pct(v.achieved),
                pct(v.achieved_docs),
                v.weight,
                repeats
            ));
        }
    }
    if !plan.moved.is_empty() {
        s.push_str("\ntargets moved to make the policy feasible:\n");
        for m in &plan.moved {
            s.push_str(&format!("  {m}\n"));
        }
    }
    for w in &plan.warnings {
        s.push_str(&format!("warning: {w}\n"));
    }
    s
}

/// Per-cell weights by key, for sampling.
pub fn weights_by_key(plan: &Plan) -> BTreeMap<Vec<String>, f64> {
    plan.cells.iter().cloned().zip(plan.weights.iter().copied()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balance::policy::Policy;
    use crate::balance::strata::{Sizes, Strata};
    use proptest::prelude::*;

    /// Strata over two dimensions from (genre, decade, chars) triples.
    fn strata(cells: &[(&str, &str, u64)]) -> Strata {
        let mut cells: Vec<Cell> = cells
            .iter()
            .map(|(g, d, c)| Cell {
                key: vec![g.to_string(), d.to_string()],
                size: Sizes { docs: c / 100 + 1, chars: *c, words: c / 6 },
            })
            .collect();
        cells.sort_by(|a, b| a.key.cmp(&b.key));
        Strata {
            dims: vec![("genre".into(), "genre".into()), ("decade".into(), "decade".into())],
            cells,
            excluded: Default::default(),
            input: Sizes::default(),
        }
    }

    fn policy(text: &str) -> Policy {
        Policy::parse(text, "test.toml").unwrap()
    }

    fn share(plan: &Plan, dim: &str, value: &str) -> (f64, f64) {
        let d = plan.dimensions.iter().find(|d| d.name == dim).unwrap();
        let v = d.values.iter().find(|v| v.value == value).unwrap();
        (v.target, v.achieved)
    }

    #[test]
    fn uniform_genres_with_a_repeat_cap_moves_the_scarce_target_and_says_so() {
        // 90% newspaper, 10% book; uniform asks 50/50, but books can give at most 4 × 10%.
        let s = strata(&[("newspaper", "1920", 9000), ("book", "1920", 1000)]);
        let p = policy("max_repeats = 4\n[dimension.genre]\nstrategy = \"uniform\"\n");
        let plan = solve(&p, &s).unwrap();
        let (t, a) = share(&plan, "genre", "book");
        assert!((t - 0.4).abs() < 1e-6 && (a - 0.4).abs() < 1e-6, "{t} {a}");
        assert!((plan.budget - 10_000.0).abs() < 1e-6);
        let book = plan.cells.iter().position(|k| k[0] == "book").unwrap();
        assert!((plan.weights[book] - 4.0).abs() < 1e-9);
        let news = plan.cells.iter().position(|k| k[0] == "newspaper").unwrap();
        assert!((plan.weights[news] - 6000.0 / 9000.0).abs() < 1e-6);
        assert!(plan.moved.iter().any(|m| m.starts_with("genre = book: 50.0% → 40.0%")), "{:?}", plan.moved);
    }

    #[test]
    fn a_budget_beyond_the_caps_shrinks_and_is_reported() {
        let s = strata(&[("newspaper", "1920", 9000), ("book", "1880", 1000)]);
        let p = policy("max_repeats = 2\n[budget]\ntotal = 50000\n[dimension.genre]\n");
        let plan = solve(&p, &s).unwrap();
        assert!((plan.budget - 20_000.0).abs() < 1e-6);
        assert!(plan.moved[0].starts_with("budget: 50,000 → 20,000"), "{:?}", plan.moved);
    }

    #[test]
    fn two_dimensions_are_met_jointly() {
        let s = strata(&[
            ("newspaper", "1920", 6000),
            ("newspaper", "1880", 2000),
            ("book", "1920", 1000),
            ("book", "1880", 1000),
        ]);
        let p = policy(
            "max_repeats = 3\n[dimension.genre]\nshares = { newspaper = 0.5, book = 0.5 }\n\
             [dimension.decade]\nshares = { \"1920\" = 0.5, \"1880\" = 0.5 }\n",
        );
        let plan = solve(&p, &s).unwrap();
        for (d, v) in [("genre", "book"), ("genre", "newspaper"), ("decade", "1880"), ("decade", "1920")] {
            let (t, a) = share(&plan, d, v);
            assert!((t - 0.5).abs() < 1e-9 && (a - 0.5).abs() < TOLERANCE, "{d}={v}: {a}");
        }
        assert!(plan.moved.is_empty(), "{:?}", plan.moved);
    }

    /// One dimension alone: books cannot give half of the budget at 2 repeats. The default
    /// moves the target and says so; "fail" refuses, naming the move it would have made.
    #[test]
    fn a_single_target_out_of_reach_is_moved_or_refused() {
        let s = strata(&[("newspaper", "1920", 9000), ("book", "1880", 1000)]);
        let text = "max_repeats = 2\n[dimension.genre]\nstrategy = \"uniform\"\n";
        let plan = solve(&policy(text), &s).unwrap();
        assert!(plan.moved.iter().any(|m| m.starts_with("genre = book: 50.0% → 20.0%")), "{:?}", plan.moved);
        let e = solve(&policy(&format!("on_conflict = \"fail\"\n{text}")), &s).unwrap_err().to_string();
        assert!(e.contains("does not move it") && e.contains("genre = book: 50.0% → 20.0%"), "{e}");
    }

    #[test]
    fn conflicting_dimensions_fail_or_relax_the_lower_priority_one() {
        // Genre and decade coincide: book ⇔ 1880. Asking 50/50 genres and 90/10 decades.
        let s = strata(&[("newspaper", "1920", 5000), ("book", "1880", 5000)]);
        let text = "max_repeats = 2\n[dimension.genre]\nstrategy = \"uniform\"\n\
                    [dimension.decade]\nshares = { \"1920\" = 0.9, \"1880\" = 0.1 }\n";
        let e = solve(&policy(&format!("on_conflict = \"fail\"\n{text}")), &s).unwrap_err().to_string();
        assert!(e.contains("cannot be met together") && e.contains("genre = book"), "{e}");
        let plan = solve(&policy(text), &s).unwrap();
        let (t, a) = share(&plan, "genre", "book");
        assert!((t - 0.5).abs() < 1e-9 && (a - 0.5).abs() < TOLERANCE);
        let (t, a) = share(&plan, "decade", "1880");
        assert!((t - 0.5).abs() < 0.01 && (a - t).abs() < TOLERANCE, "decade moved to what genre allows: {t} {a}");
        assert!(plan.moved.iter().any(|m| m.contains("decade = 1880: 10.0% →") && m.contains("higher-priority")));
    }

    #[test]
    fn unimax_takes_small_values_whole_up_to_the_epoch_cap() {
        let s = strata(&[("a", "x", 8000), ("b", "x", 1500), ("c", "x", 500)]);
        let p = policy("max_repeats = 10\n[dimension.genre]\nstrategy = \"unimax\"\nmax_epochs = 2\n");
        let plan = solve(&p, &s).unwrap();
        // c gets 2 × 500 = 1000; the rest (9000) split evenly between a and b: 4500 each, but b
        // is capped at 2 × 1500 = 3000, so a gets 6000.
        for (v, want) in [("a", 0.6), ("b", 0.3), ("c", 0.1)] {
            let (t, a) = share(&plan, "genre", v);
            assert!((t - want).abs() < 1e-9 && (a - want).abs() < TOLERANCE, "{v}: {t} {a}");
        }
    }

    #[test]
    fn temperature_flattens() {
        let s = strata(&[("a", "x", 8100), ("b", "x", 100)]);
        let p = policy("max_repeats = 100\n[dimension.genre]\nstrategy = \"temperature\"\ntemperature = 2.0\n");
        let plan = solve(&p, &s).unwrap();
        // √8100 : √100 = 90 : 10.
        assert!((share(&plan, "genre", "a").0 - 0.9).abs() < 1e-9);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Any policy either gives a plan whose achieved shares are within tolerance of its
        /// (feasible) targets with every cap kept, or is refused as infeasible.
        #[test]
        fn plans_meet_targets_and_caps(
            sizes in proptest::collection::vec(1u64..50_000, 6),
            shares in proptest::collection::vec(1u32..100, 3),
            temperature in 1.0f64..5.0,
            max_repeats in 1u32..6,
            fail in any::<bool>(),
            budget_scale in 0.2f64..3.0,
        ) {
            let genres = ["a", "b", "c"];
            let decades = ["1880", "1920"];
            let cells: Vec<(&str, &str, u64)> =
                (0..6).map(|i| (genres[i % 3], decades[i / 3], sizes[i])).collect();
            let s = strata(&cells);
            let tot: u32 = shares.iter().sum();
            let mut sh: Vec<f64> = shares.iter().map(|x| *x as f64 / tot as f64).collect();
            let rest: f64 = sh[..2].iter().sum();
            sh[2] = 1.0 - rest;
            let corpus: u64 = sizes.iter().sum();
            let text = format!(
                "max_repeats = {max_repeats}\non_conflict = \"{}\"\n[budget]\ntotal = {}\n\
                 [dimension.genre]\nshares = {{ a = {}, b = {}, c = {} }}\n\
                 [dimension.decade]\nstrategy = \"temperature\"\ntemperature = {temperature}\n",
                if fail { "fail" } else { "relax-lower-priority" },
                corpus as f64 * budget_scale,
                sh[0], sh[1], sh[2]
            );
            let p = policy(&text);
            match solve(&p, &s) {
                Ok(plan) => {
                    for (w, _) in plan.weights.iter().zip(&plan.cells) {
                        prop_assert!(*w <= max_repeats as f64 + 1e-9, "cap kept: {w}");
                        prop_assert!(*w >= 0.0);
                    }
                    for d in &plan.dimensions {
                        let sum: f64 = d.values.iter().map(|v| v.target).sum();
                        prop_assert!((sum - 1.0).abs() < 1e-6);
                        for v in &d.values {
                            prop_assert!((v.achieved - v.target).abs() <= TOLERANCE, "{} {}: {} vs {}", d.name, v.value, v.achieved, v.target);
                        }
                    }
                    // No target moved (always so under on_conflict = "fail"): the policy's own
                    // shares are achieved, not only the solver's targets.
                    prop_assert!(!fail || plan.moved.is_empty(), "moved under fail: {:?}", plan.moved);
                    if plan.moved.is_empty() {
                        let genre = plan.dimensions.iter().find(|d| d.name == "genre").unwrap();
                        for (g, want) in genres.iter().zip(&sh) {
                            let v = genre.values.iter().find(|v| v.value == *g).unwrap();
                            prop_assert!((v.achieved - want).abs() <= TOLERANCE, "{g}: achieved {} vs the policy's {want}", v.achieved);
                        }
                    }
                    let achieved: f64 = plan.weights.iter().zip(&s.cells).map(|(w, c)| w * c.size.chars as f64).sum();
                    prop_assert!((achieved - plan.budget).abs() <= TOLERANCE * plan.budget);
                    prop_assert!(plan.budget <= corpus as f64 * budget_scale + 1e-6);
                }
                Err(e) => prop_assert!(matches!(e, SolveError::Infeasible(_)), "{e}"),
            }
        }
    }
}
