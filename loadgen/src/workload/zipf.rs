//! Zipf-skewed choice among n items and a tiny deterministic mixer, so that transaction `g` of
//! a workload picks the same counterparty on every run and in any signing thread.

/// Draws ranks 0..n with P(k) ∝ 1 / (k+1)^exponent (exponent 0 = uniform).
#[derive(Debug, Clone)]
pub struct Zipf {
    /// cdf[k] = P(rank ≤ k); the last entry is 1.
    cdf: Vec<f64>,
}

impl Zipf {
    /// `n` ≥ 1 items; `exponent` ≥ 0.
    pub fn new(n: usize, exponent: f64) -> Zipf {
        let n = n.max(1);
        let weights: Vec<f64> = (1..=n).map(|k| (k as f64).powf(-exponent)).collect();
        let total: f64 = weights.iter().sum();
        let mut acc = 0.0;
        let mut cdf: Vec<f64> = weights
            .iter()
            .map(|w| {
                acc += w / total;
                acc
            })
            .collect();
        if let Some(last) = cdf.last_mut() {
            *last = 1.0;
        }
        Zipf { cdf }
    }

    /// The rank for a uniform `u` in [0, 1).
    pub fn rank(&self, u: f64) -> usize {
        self.cdf
            .partition_point(|&c| c <= u)
            .min(self.cdf.len() - 1)
    }

    /// The rank for a 64-bit random value.
    pub fn sample(&self, bits: u64) -> usize {
        self.rank(unit(bits))
    }

    pub fn len(&self) -> usize {
        self.cdf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cdf.is_empty()
    }
}

/// SplitMix64 finalizer: a well-mixed 64-bit value for any input.
pub fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Maps 64 random bits to [0, 1).
pub fn unit(bits: u64) -> f64 {
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frequencies(z: &Zipf, draws: u64) -> Vec<f64> {
        let mut counts = vec![0u64; z.len()];
        for g in 0..draws {
            counts[z.sample(mix(g))] += 1;
        }
        counts.iter().map(|&c| c as f64 / draws as f64).collect()
    }

    #[test]
    fn zipf_one_matches_harmonic_weights() {
        let z = Zipf::new(10, 1.0);
        let f = frequencies(&z, 200_000);
        let h10: f64 = (1..=10).map(|k| 1.0 / k as f64).sum();
        for (k, fk) in f.iter().enumerate() {
            let expected = 1.0 / ((k + 1) as f64 * h10);
            assert!((fk - expected).abs() < 0.01, "rank {k}: {fk} vs {expected}");
        }
        // Rank 1 is about twice as popular as rank 2, and the order is monotone.
        assert!((f[0] / f[1] - 2.0).abs() < 0.1, "{f:?}");
        assert!(f.windows(2).all(|w| w[0] > w[1]), "{f:?}");
    }

    #[test]
    fn zipf_zero_is_uniform() {
        let f = frequencies(&Zipf::new(8, 0.0), 160_000);
        assert!(f.iter().all(|fk| (fk - 0.125).abs() < 0.01), "{f:?}");
    }

    #[test]
    fn higher_exponent_skews_more() {
        let a = frequencies(&Zipf::new(10, 0.5), 50_000)[0];
        let b = frequencies(&Zipf::new(10, 2.0), 50_000)[0];
        assert!(b > a + 0.2, "{a} vs {b}");
    }

    #[test]
    fn ranks_stay_in_range_at_the_edges() {
        let z = Zipf::new(3, 1.0);
        assert_eq!(z.rank(0.0), 0);
        assert_eq!(z.rank(0.999_999_999), 2);
        assert_eq!(Zipf::new(1, 1.0).sample(u64::MAX), 0);
    }
}
