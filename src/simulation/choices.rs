//! Where the simulator's choices come from: a seeded generator (SplitMix64: tiny,
//! fast, and the same stream on every platform) or a fuzzer's bytes.

/// A stream of choices. The same seed (or the same bytes) gives the same stream.
#[derive(Clone, Debug)]
pub struct Choices {
    source: Source,
}

#[derive(Clone, Debug)]
enum Source {
    Seeded { state: u64 },
    Bytes { data: Vec<u8>, at: usize },
}

impl Choices {
    pub fn seeded(seed: u64) -> Choices {
        Choices {
            source: Source::Seeded { state: seed },
        }
    }

    /// Choices read from `data`; once it is used up every choice is 0 and
    /// [`exhausted`](Self::exhausted) says so.
    pub fn from_bytes(data: &[u8]) -> Choices {
        Choices {
            source: Source::Bytes {
                data: data.to_vec(),
                at: 0,
            },
        }
    }

    /// True once a byte stream is used up (never for a seeded one).
    pub fn exhausted(&self) -> bool {
        match &self.source {
            Source::Seeded { .. } => false,
            Source::Bytes { data, at } => *at >= data.len(),
        }
    }

    /// A value in `0..n` (0 when `n` is 0 or 1). Seeded: slightly biased for huge
    /// `n`, which a simulation does not mind. Bytes: one byte when `n` ≤ 256, so
    /// that a fuzzer's mutations map to single choices.
    pub fn below(&mut self, n: u64) -> u64 {
        if n <= 1 {
            return 0;
        }
        match &mut self.source {
            Source::Seeded { state } => split_mix(state) % n,
            Source::Bytes { data, at } => {
                let width = if n <= 256 { 1 } else { 8 };
                let mut v = 0u64;
                for _ in 0..width {
                    v = (v << 8) | u64::from(data.get(*at).copied().unwrap_or(0));
                    *at += 1;
                }
                v % n
            }
        }
    }

    /// True with probability 1/`n`.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }

    /// An index into `weights`, each chosen in proportion to its weight.
    pub fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|w| u64::from(*w)).sum();
        let mut pick = self.below(total);
        for (i, w) in weights.iter().enumerate() {
            let w = u64::from(*w);
            if pick < w {
                return i;
            }
            pick -= w;
        }
        weights.len().saturating_sub(1)
    }

    /// A value in `lo..hi` (`lo` when the range is empty).
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        let span = hi.saturating_sub(lo);
        if span <= 0 {
            return lo;
        }
        lo + self.below(span as u64) as i64
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014), the generator `java.util.SplittableRandom`
/// and xoshiro's seeding use.
fn split_mix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_stream_and_bytes_run_out() {
        let mut a = Choices::seeded(7);
        let mut b = Choices::seeded(7);
        let xs: Vec<u64> = (0..100).map(|_| a.below(1000)).collect();
        let ys: Vec<u64> = (0..100).map(|_| b.below(1000)).collect();
        assert_eq!(xs, ys);
        assert!(xs.iter().any(|x| *x != xs[0]), "not constant");
        let mut c = Choices::from_bytes(&[5, 9]);
        assert_eq!((c.below(4), c.below(4)), (1, 1));
        assert!(c.exhausted());
        assert_eq!(c.below(4), 0);
        assert_eq!(c.weighted(&[0, 3, 1]), 1);
    }
}
