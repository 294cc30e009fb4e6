//! Telling the Nordic languages apart: Swedish, Norwegian bokmål, Norwegian nynorsk, Danish,
//! Icelandic and Faroese (and Finnish, by its own function words).
//!
//! whatlang's trigram profiles confuse Swedish, bokmål and Danish, have no nynorsk, Icelandic or
//! Faroese, and are easily pulled off by OCR noise. What separates these languages reliably are
//! their function words (`och`/`og`, `inte`/`ikke`/`ikkje`, `jag`/`jeg`/`eg`/`ég`) and a few
//! letters (`ä ö` against `æ ø`, `þ ð`). Function words are short and frequent, so they survive
//! Fraktur OCR better than the rest of the text. This scorer counts them: every token found in
//! the lists below adds 1 / (number of languages whose list holds it) to each of those
//! languages, and a handful of letters add a smaller weight the same way. Pre-1906 Swedish
//! spelling (`hvad`, `hvilken`, `qvinna`, `af`, `äro`, `icke`, `ſ` read as `s`) is in the Swedish
//! list; where an old Swedish form is also Danish (`hvad`, `af`), it counts for both and the
//! other words decide.
//!
//! The lists were written by hand from grammars and dictionaries, not learnt from the evaluation
//! data (`kbcurate eval langid` measures them on Universal Dependencies sentences they have never
//! seen).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

/// The languages this scorer decides between (ISO 639-3), in a fixed order.
pub const LANGS: [&str; 7] = ["swe", "nob", "nno", "dan", "isl", "fao", "fin"];

const SWE: &str = "och i att det som en på är av för med till den har de inte om ett han men var jag sig från \
vi så kan man när år säger hon under också efter eller nu sin där vid mot ska skall bara blir vad mycket hade \
kommer två andra sedan får måste här många än finns skulle genom utan sina mer alla över något någon några \
honom henne dem oss mig dig min din vårt våra vår hans hennes deras denna detta dessa vilket vilken vilka hur \
varför även bland både ingen inga inget redan aldrig alltid mellan själv samma första blev varit vara göra gör \
gjorde sade ju väl just hela helt enligt kunde ville dock ty ej icke äro voro hvad hvar hvilken hvilka hvilket \
hvarje hvarför huru af uti ifrån emellan ock sådan sådana hos eftersom medan innan tills litet lite allt annat \
egen eget egna nej ja godt kronor herr fröken då dess sitt qvinna qvinnor \
blefvo blifvit hafva haft gifva lefva öfver efter hemma ännu kanske därför emot hvilkas hvarken tjenst nya \
stor stora stort liten små mera mest sista utom sådant ser se gå går gick kom tog blefve vore kvinna kvinnor \
veckan dagen landet staden tiden sättet talet året barnen folket skola lärare gamla goda";

const NOB: &str = "og i å at det som en på er av for med til den har de ikke om et han men var jeg seg fra vi så \
kan man når år sier hun under også etter eller nå sin der ved mot skal bare blir hva mye hadde kommer to andre \
siden får må her mange enn finnes skulle gjennom uten sine mer alle over noe noen ham henne dem oss meg deg min \
din vårt våre vår hans hennes deres denne dette disse hvilket hvilken hvilke hvordan hvorfor også blant både \
ingen intet allerede aldri alltid mellom selv samme første ble vært være gjøre gjør gjorde sa jo vel bare hele \
helt ifølge kunne ville likevel dag ei et nye ut opp fram igjen hvis fordi mens før etter slik sånn bli blitt \
gikk fikk kom tok stor store stort liten små mer mest siste kroner dessuten derfor \
kanskje ennå tidligere senere nesten noe heller hos egen eget egne nei ja godt landet byen tiden året barna \
folk skolen lærer gamle gode hvert hver annen annet flere hjem hjemme sammen vei dere hun kjent kjøpe spørsmål \
fortsatt sier tror synes heter dessverre altså egentlig selvfølgelig hverandre mann kvinne barn uke sted \
verden hus ting gjennom uten kommer hvem hvorfor hvordan hvor når noen noe mye nå";

const NNO: &str = "og i å at det som ein eit ei på er av for med til den har dei ikkje om han men var eg seg frå \
vi me så kan ein når år seier ho under òg også etter eller no sin der ved mot skal berre blir vert vart kva \
mykje hadde kjem to andre sidan får må her mange enn finst skulle gjennom utan sine meir alle over noko nokon \
han henne dei oss meg deg min din vårt våre vår hans hennar deira denne dette desse kva kven kvar korleis \
kvifor blant både ingen allereie aldri alltid mellom sjølv same første vorte vore vere vera gjere gjer gjorde \
sa jo vel heile heilt kunne ville likevel dag nye ut opp fram igjen viss fordi medan før slik bli blitt gjekk \
fekk kom tok stor store stort liten små meir mest siste kroner difor kanskje enno tidlegare \
seinare nesten noko heller hjå eigen eige eigne nei ja godt landet byen tida året borna folk skulen lærar \
gamle gode kvart kvar dykk oss sjå gå eitt mellom ikkje anna annan fleire heim heime saman veg \
dykkar ho dei kjent kjøpe spørsmål framleis seier trur synest heiter dessverre altså eigentleg sjølvsagt \
kvarandre mann kvinne born barn veke stad verda hus ting gjennom utan kjem korleis kvifor når nokre mykje no \
då dersom berre";

const DAN: &str = "og i at det som en på er af for med til den har de ikke om et han men var jeg sig fra vi så \
kan man når år siger hun under også efter eller nu sin der ved mod skal bare bliver hvad meget havde kommer to \
andre siden får må her mange end findes skulle gennem uden sine mere alle over noget nogen nogle ham hende dem \
os mig dig min din vores hans hendes deres denne dette disse hvilket hvilken hvilke hvordan hvorfor blandt både \
ingen intet allerede aldrig altid mellem selv samme første blev været være gøre gør gjorde sagde jo vel hele \
helt ifølge kunne ville alligevel dag nye ud op frem igen hvis fordi mens før sådan blive blevet gik fik kom \
tog stor store stort lille små mest sidste kroner desuden derfor måske endnu \
tidligere senere næsten heller hos egen eget egne nej ja godt landet byen tiden året børnene folk skolen lærer \
gamle gode hvert hver lige kun dog thi eller sammen mellem spørgsmål siger giver tager jer anden andet flere mere hjem hjemme vej \
hvornår hvem samt således desværre altså ganske efterhånden stadig nemlig egentlig selvfølgelig hinanden mand \
kvinde børn barn uge gang sted verden hus ting gøre sige tage give komme vide tror synes hedder købe hjælp \
sagde kende kender kære mange også";

const ISL: &str = "og í á að það sem er um til við en hann hún var ég ekki með fyrir af eru þessi þetta þess \
þeir þær þau sig mig þig honum henni okkur þeim hafa hefur hafði verið vera verður var voru einn ein eitt \
eða þegar þá nú hér þar líka eftir milli undir yfir frá hjá allt allir öll annar önnur mjög mikið meira \
ekkert enginn sinn sín sitt hans hennar þeirra minn mín þinn hvað hver hvernig hvers vegna árið \
íslenska ";

const FAO: &str = "og í á at tað sum er um til við men hann hon var eg ikki við fyri av eru hesin hetta hesum \
teir tær tey sær mær tær honum henni okkum teimum hava hevur hevði verið vera verður vóru ein eitt eða tá \
nú her har eisini eftir millum undir yvir frá hjá alt allir øll annar onnur sera nógv meira einki eingin \
sín sítt hansara hennara teirra mín tín hvat hvør hvussu hví árið ";

/// Finnish, the other language of the Swedish-Finnish newspapers: its function words are as
/// frequent, so a Finnish window is recognised without the trigram detector too.
const FIN: &str = "ja on ei että oli ovat mutta joka jotka hän tai kuin myös niin sekä vielä nyt kaikki tämä tämän \
sen siitä sitä ole olisi jonka joiden mukaan vuonna kanssa jälkeen aikana sitten koska jos vaan ollut olivat \
tässä siinä hänen heidän meidän minä sinä mitä mikä kuka missä kun se ne he me te olla olen olet olemme \
ovat eivät ettei jo vain yli alla luona kautta vastaan ennen nyt täällä siellä mutta paitsi eli joten \
jotta kunnes vaikka sillä tuo nuo tuon näin noin hyvin paljon vähän suuri suuren pieni uusi uuden";

/// Letters that point at a language group; weighted below a whole function word.
const LETTERS: &[(char, &[&str])] = &[
    ('ä', &["swe", "fin"]),
    ('ö', &["swe", "isl", "fin"]),
    ('ø', &["nob", "nno", "dan", "fao"]),
    ('æ', &["nob", "nno", "dan", "isl", "fao"]),
    ('þ', &["isl"]),
    ('ð', &["isl", "fao"]),
];
const LETTER_WEIGHT: f32 = 0.25;

/// Spelling patterns of whole words: (ending, languages, weight). `-sjon` against `-tion`,
/// nynorsk `-leg`/`-heit`/`-ane`, Danish `-hed`; `kj`/`gj`/`øy` (bokmål, nynorsk) against
/// `øj`/`ej` (Danish) anywhere in the word.
const ENDINGS: &[(&str, &[&str], f32)] = &[
    ("sjon", &["nob", "nno"], 0.5),
    ("sjonen", &["nob", "nno"], 0.5),
    ("tion", &["swe", "dan"], 0.4),
    ("tionen", &["swe", "dan"], 0.4),
    ("leg", &["nno"], 0.5),
    ("lege", &["nno"], 0.5),
    ("legt", &["nno"], 0.5),
    ("heit", &["nno"], 0.5),
    ("ane", &["nno"], 0.3),
    ("hed", &["dan"], 0.5),
    ("heden", &["dan"], 0.5),
    ("het", &["swe", "nob"], 0.2),
    ("ede", &["dan"], 0.3),
];
const INFIXES: &[(&str, &[&str], f32)] = &[
    ("kj", &["nob", "nno"], 0.3),
    ("gj", &["nob", "nno"], 0.2),
    ("øy", &["nob", "nno", "fao"], 0.4),
    ("øj", &["dan"], 0.5),
    ("ej", &["dan"], 0.2),
];

/// Words frequent in English, German or Finnish too (`i`, `to`, `for`, `over`, `ja`, `se`,
/// `kun`, `ei`): they count for the languages, but not as evidence that a text is Nordic at all.
const FOREIGN: &[&str] = &[
    "i", "to", "for", "over", "under", "man", "den", "der", "die", "alle", "er", "at", "her", "hat", "so", "vil",
    "ser", "en", "et", "de", "dem", "min", "sin", "hans", "bare", "var", "kan", "om", "hele", "kom", "dag", "nu", "da",
    "ja", "se", "kun", "ei", "ne", "vi", "ut", "hus", "mann", "barn", "land", "by", "ting", "gang", "tid", "stor",
    "ny", "bli", "a", "med", "men", "sig", "in", "hun", "mange", "god", "gut", "gode", "sa", "and",
];

/// Set in a lexicon entry for the words of [`FOREIGN`].
const FOREIGN_BIT: u8 = 1 << 7;

/// FNV-1a for the lexicon's short words: a third of the scorer's time went to SipHash on words
/// of 2–10 bytes. The lexicon is fixed, so nobody chooses keys to collide.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

type Lexicon = HashMap<&'static str, u8, BuildHasherDefault<Fnv>>;

fn lexicon() -> &'static Lexicon {
    static LEX: OnceLock<Lexicon> = OnceLock::new();
    LEX.get_or_init(|| {
        let mut m = Lexicon::default();
        for (bit, list) in [SWE, NOB, NNO, DAN, ISL, FAO, FIN].into_iter().enumerate() {
            for w in list.split_whitespace() {
                *m.entry(w).or_default() |= 1 << bit;
            }
        }
        for w in FOREIGN {
            if let Some(mask) = m.get_mut(w) {
                *mask |= FOREIGN_BIT;
            }
        }
        m
    })
}

/// The scorer's verdict on one piece of text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NordicScore {
    /// Score per language of [`LANGS`].
    pub scores: [f32; 7],
    /// Tokens found in any list.
    pub hits: u32,
    /// Tokens looked at.
    pub tokens: u32,
    /// Hits on words that are not also common English, German or Finnish words.
    pub strong_hits: u32,
    /// The part of `scores` that the letters (`ä`, `ø`, `ð`, ...) gave.
    pub letter_scores: [f32; 7],
}

impl NordicScore {
    /// The best language, its score and the runner-up's score; ties go to the earlier language
    /// of [`LANGS`].
    pub fn best(&self) -> (&'static str, f32, f32) {
        let mut order: Vec<usize> = (0..LANGS.len()).collect();
        order.sort_by(|&a, &b| self.scores[b].total_cmp(&self.scores[a]).then(a.cmp(&b)));
        (LANGS[order[0]], self.scores[order[0]], self.scores[order[1]])
    }

    /// The scores of the words alone (function words, endings, letter pairs), without the
    /// letters: `ä` and `ö` count for Swedish and Finnish alike and blur their margin.
    pub fn words_only(&self) -> NordicScore {
        let mut s = *self;
        for (sc, l) in s.scores.iter_mut().zip(self.letter_scores) {
            *sc = (*sc - l).max(0.0);
        }
        s.letter_scores = [0.0; 7];
        s
    }

    /// Share of tokens that are Nordic function words: high in any running Nordic text
    /// (typically 0.3–0.5), low in a Finnish or English text quoting a Swedish name.
    pub fn hit_share(&self) -> f32 {
        if self.tokens == 0 {
            0.0
        } else {
            self.hits as f32 / self.tokens as f32
        }
    }

    /// Share of tokens that are Nordic function words found in no other language's common words.
    pub fn strong_share(&self) -> f32 {
        if self.tokens == 0 {
            0.0
        } else {
            self.strong_hits as f32 / self.tokens as f32
        }
    }
}

/// Scores `text` (any case; `ſ` is read as `s`).
pub fn score(text: &str) -> NordicScore {
    let lex = lexicon();
    let mut s = NordicScore { scores: [0.0; 7], hits: 0, tokens: 0, strong_hits: 0, letter_scores: [0.0; 7] };
    let mut word = String::with_capacity(32);
    // Letter-pair features (INFIXES) seen in the current word, as bits.
    let mut pairs = 0u8;
    let mut prev = ' ';
    for c in text.chars() {
        let lc = match c {
            'a'..='z' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            'ſ' => 's',
            // Latin-1 letters (`ä`, `Ö`, `ø`, `Æ`) without the Unicode tables.
            'à'..='þ' if c != '÷' => c,
            'À'..='Þ' if c != '×' => char::from_u32(c as u32 + 32).unwrap_or(c),
            c if c.is_ascii() || !c.is_alphabetic() => {
                flush(&mut word, &mut s, lex, pairs);
                pairs = 0;
                prev = ' ';
                continue;
            }
            c => c.to_lowercase().next().unwrap_or(c),
        };
        word.push(lc);
        if !lc.is_ascii() {
            if let Some((_, langs)) = LETTERS.iter().find(|(l, _)| *l == lc) {
                add(&mut s.scores, langs, LETTER_WEIGHT);
                add(&mut s.letter_scores, langs, LETTER_WEIGHT);
            }
        }
        for (k, (pair, _, _)) in INFIXES.iter().enumerate() {
            let mut it = pair.chars();
            if it.next() == Some(prev) && it.next() == Some(lc) {
                pairs |= 1 << k;
            }
        }
        prev = lc;
    }
    flush(&mut word, &mut s, lex, pairs);
    s
}

fn add(scores: &mut [f32; 7], langs: &[&str], w: f32) {
    let w = w / langs.len() as f32;
    for l in langs {
        let k = LANGS.iter().position(|x| x == l).expect("feature languages are in LANGS");
        scores[k] += w;
    }
}

fn flush(word: &mut String, s: &mut NordicScore, lex: &Lexicon, pairs: u8) {
    if word.is_empty() {
        return;
    }
    s.tokens += 1;
    // Endings end in one of these letters; most words skip the checks.
    if word.len() >= 4 && word.ends_with(['n', 'g', 'e', 't', 'd']) {
        for (end, langs, w) in ENDINGS {
            if word.ends_with(end) {
                add(&mut s.scores, langs, *w);
            }
        }
    }
    if pairs != 0 {
        for (k, (_, langs, w)) in INFIXES.iter().enumerate() {
            if pairs & (1 << k) != 0 {
                add(&mut s.scores, langs, *w);
            }
        }
    }
    if let Some(&mask) = lex.get(word.as_str()) {
        s.hits += 1;
        if mask & FOREIGN_BIT == 0 {
            s.strong_hits += 1;
        }
        let langs = mask & !FOREIGN_BIT;
        let w = 1.0 / langs.count_ones() as f32;
        for (k, sc) in s.scores.iter_mut().enumerate() {
            if langs & (1 << k) != 0 {
                *sc += w;
            }
        }
    }
    word.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn best(t: &str) -> &'static str {
        score(t).best().0
    }

    #[test]
    fn latin1_letters_score_as_their_lower_case() {
        // The Latin-1 arms agree with the Unicode functions they stand in for.
        for c in '\u{c0}'..='\u{ff}' {
            if c == '×' || c == '÷' {
                continue;
            }
            assert!(c.is_alphabetic(), "{c}");
            let upper = format!("OCH {} SÅ", c.to_uppercase());
            assert_eq!(score(&upper), score(&upper.to_lowercase()), "{c}");
        }
        assert_eq!(score("ÄR HON HÄR"), score("är hon här"));
        assert_eq!(score("a×b ÷ c"), score("a b c"));
    }

    #[test]
    fn the_four_scandinavian_standards() {
        assert_eq!(best("Jag vet inte vad han sade, men det är inte mitt fel."), "swe");
        assert_eq!(best("Jeg vet ikke hva han sa, men det er ikke min feil."), "nob");
        assert_eq!(best("Eg veit ikkje kva han sa, men det er ikkje mi skuld."), "nno");
        assert_eq!(best("Jeg ved ikke hvad han sagde, men det er ikke min skyld."), "dan");
    }

    #[test]
    fn old_swedish_spelling_is_swedish() {
        // Pre-1906 spelling, with the long s of Fraktur.
        assert_eq!(best("Hvad ſkall jag göra? Qvinnan hade icke ſett honom, ty han var borta ifrån ſtaden."), "swe");
        assert_eq!(best("De äro nu hemma af sina resor och hafva blifvit rika."), "swe");
    }

    #[test]
    fn finnish() {
        assert_eq!(best("Hän sanoi, että se oli jo liian myöhäistä, mutta kaikki olivat vielä siellä."), "fin");
    }

    #[test]
    fn icelandic_and_faroese() {
        assert_eq!(best("Það er ekki hægt að segja að hann hafi verið þar."), "isl");
        assert_eq!(best("Tað er ikki gott at siga, hvat hann hevur gjørt, men hon var eisini har."), "fao");
    }

    #[test]
    fn strong_share_separates_running_text_from_names() {
        let sv = score("Han kom hem och sade att det var för sent att gå till staden.");
        assert!(sv.strong_share() > 0.4, "{sv:?}");
        // English shares `i`, `for`, `on`, `under` with the Nordic lists: they are not evidence.
        let en = score("The steamer Freja left Stockholm for Göteborg on Monday with timber under deck.");
        assert!(en.strong_share() < 0.1, "{en:?}");
        let fi = score("Tukholman kaupungissa on paljon ihmisiä ja Vasa on kaunis kaupunki.");
        assert_eq!(fi.best().0, "fin", "{fi:?}");
    }
}
