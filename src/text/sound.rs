//! Sounds as small integers: every character's toneless readings (all of a heteronym's) and their
//! blurred forms, interned once, so matching by sound compares integers instead of strings.
//!
//! The rules are those of [`Syllables::distance`](super::Syllables::distance), which the reference
//! matcher uses: same character or a shared reading is 0, a shared blurred reading (syllables
//! Whisper was seen to confuse, from the confusion table) is ½, anything else 1. Here they are counted in halves (0, 1, 2) so sums stay integers.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::pinyin::{coarse, readings, MAX_READINGS};

/// The sound of a character: an index into [`SoundTable`]. [`NO_SOUND`] for characters without a
/// reading (Latin letters, digits, symbols), which sound like nothing but themselves.
pub type SoundId = u16;

/// The sound of characters that have no reading.
pub const NO_SOUND: SoundId = 0;

/// A blurred reading (what [`coarse`] leaves of a syllable), numbered from 1.
pub type Blur = u16;

/// Every character's readings, built once per process from the pinyin tables.
pub struct SoundTable {
    /// Sound of each code point below `by_char.len()`; above it nothing has a reading.
    by_char: Vec<SoundId>,
    sounds: Vec<Sound>,
    blurs: usize,
}

/// The readings of one sound: syllable ids and blurred ids, each a short set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
struct Sound {
    syllables: [u16; MAX_READINGS],
    n_syllables: u8,
    blurs: [Blur; MAX_READINGS],
    n_blurs: u8,
}

impl std::fmt::Debug for SoundTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoundTable")
            .field("sounds", &self.sounds.len())
            .field("blurs", &self.blurs)
            .finish()
    }
}

/// Code points scanned for readings: all of Unicode's CJK planes.
const SCANNED: u32 = 0x40000;

impl SoundTable {
    /// The process-wide table.
    pub fn shared() -> &'static SoundTable {
        static TABLE: OnceLock<SoundTable> = OnceLock::new();
        TABLE.get_or_init(SoundTable::build)
    }

    fn build() -> SoundTable {
        let mut syllables: HashMap<&'static str, u16> = HashMap::new();
        let mut blurs: HashMap<&'static str, Blur> = HashMap::new();
        let mut sounds: Vec<Sound> = vec![Sound::default()];
        let mut ids: HashMap<Sound, SoundId> = HashMap::new();
        let mut by_char = vec![NO_SOUND; SCANNED as usize];
        for code in 0..SCANNED {
            let Some(c) = char::from_u32(code) else {
                continue;
            };
            let mut sound = Sound::default();
            // As Syllables does: the modern readings.
            for plain in readings(c).into_iter().take_while(|p| !p.is_empty()) {
                let n = syllables.len() as u16;
                let id = *syllables.entry(plain).or_insert(n);
                push_unique(&mut sound.syllables, &mut sound.n_syllables, id);
                let n = blurs.len() as Blur + 1;
                let blur = *blurs.entry(coarse(plain)).or_insert(n);
                push_unique(&mut sound.blurs, &mut sound.n_blurs, blur);
            }
            if sound.n_syllables == 0 {
                continue;
            }
            let id = *ids.entry(sound).or_insert_with(|| {
                sounds.push(sound);
                (sounds.len() - 1) as SoundId
            });
            by_char[code as usize] = id;
        }
        let used = by_char
            .iter()
            .rposition(|&s| s != NO_SOUND)
            .map_or(0, |i| i + 1);
        by_char.truncate(used);
        SoundTable {
            by_char,
            sounds,
            blurs: blurs.len(),
        }
    }

    /// The sound of `c`.
    #[inline]
    pub fn sound(&self, c: char) -> SoundId {
        self.by_char.get(c as usize).copied().unwrap_or(NO_SOUND)
    }

    /// How many blurred readings there are; [`Blur`]s run from 1 to this.
    pub fn blur_count(&self) -> usize {
        self.blurs
    }

    /// The blurred readings of a sound (empty for [`NO_SOUND`]).
    #[inline]
    pub fn blurs(&self, s: SoundId) -> &[Blur] {
        let sound = &self.sounds[s as usize];
        &sound.blurs[..sound.n_blurs as usize]
    }

    /// True when two sounds share a reading (homophones, counting every reading of heteronyms).
    #[inline]
    pub fn same(&self, a: SoundId, b: SoundId) -> bool {
        if a == NO_SOUND || b == NO_SOUND {
            return false;
        }
        if a == b {
            return true;
        }
        let (a, b) = (&self.sounds[a as usize], &self.sounds[b as usize]);
        intersect(
            &a.syllables[..a.n_syllables as usize],
            &b.syllables[..b.n_syllables as usize],
        )
    }

    /// How far apart characters `a` (sound `sa`) and `b` (sound `sb`) are as heard, in halves:
    /// 0 the same character or a shared reading, 1 a shared blurred reading, 2 otherwise.
    #[inline]
    pub fn distance(&self, a: char, sa: SoundId, b: char, sb: SoundId) -> u8 {
        if a == b {
            return 0;
        }
        if sa == NO_SOUND || sb == NO_SOUND {
            return 2;
        }
        if sa == sb {
            return 0;
        }
        let (x, y) = (&self.sounds[sa as usize], &self.sounds[sb as usize]);
        if intersect(
            &x.syllables[..x.n_syllables as usize],
            &y.syllables[..y.n_syllables as usize],
        ) {
            0
        } else if intersect(
            &x.blurs[..x.n_blurs as usize],
            &y.blurs[..y.n_blurs as usize],
        ) {
            1
        } else {
            2
        }
    }
}

fn push_unique(set: &mut [u16; MAX_READINGS], n: &mut u8, id: u16) {
    if !set[..*n as usize].contains(&id) {
        set[*n as usize] = id;
        *n += 1;
    }
}

#[inline]
fn intersect(a: &[u16], b: &[u16]) -> bool {
    a.iter().any(|x| b.contains(x))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::Syllables;
    use pinyin::ToPinyinMulti;

    /// The table's distance is the reference's, on every pair of a mixed sample of characters:
    /// homophones, heteronyms, near sounds, Latin letters, digits, symbols and rare characters.
    #[test]
    fn distance_agrees_with_syllables() {
        let sample: Vec<char> = "领导令到您你林宁重虫中种是四十时不普步部好号坐座走做\
            和合河喝的地得了乐着找照行航长常还会说没为a1Z９，。🙂丁正争甲家乙一子自字巳世\
            吧把爸八怕著乾干于於与哦噢嗯呣兀㐀𠀀𪚥"
            .chars()
            .collect();
        let syllables = Syllables::new(&sample);
        let table = SoundTable::shared();
        for (i, &a) in sample.iter().enumerate() {
            for (j, &b) in sample.iter().enumerate() {
                let want = syllables.distance(i, &syllables, j);
                let got = table.distance(a, table.sound(a), b, table.sound(b));
                assert_eq!(f32::from(got) / 2.0, want, "{a} {b}");
                assert_eq!(
                    table.same(table.sound(a), table.sound(b)) || a == b,
                    want == 0.0,
                    "{a} {b}"
                );
            }
        }
    }

    /// The same on a spread of code points across the CJK blocks.
    #[test]
    fn distance_agrees_across_the_cjk_blocks() {
        let sample: Vec<char> = (0x3400..0xA000)
            .step_by(61)
            .chain((0x20000..0x2B000).step_by(997))
            .filter_map(char::from_u32)
            .collect();
        let syllables = Syllables::new(&sample);
        let table = SoundTable::shared();
        for (i, &a) in sample.iter().enumerate() {
            for (j, &b) in sample.iter().enumerate() {
                let got = table.distance(a, table.sound(a), b, table.sound(b));
                assert_eq!(
                    f32::from(got) / 2.0,
                    syllables.distance(i, &syllables, j),
                    "{a} {b}"
                );
            }
        }
    }

    #[test]
    fn nothing_beyond_the_scanned_planes_has_a_reading() {
        for code in SCANNED..=0x10FFFF {
            if let Some(c) = char::from_u32(code) {
                assert!(c.to_pinyin_multi().is_none(), "{code:x}");
            }
        }
        assert!(SoundTable::shared().blur_count() > 100);
    }
}
