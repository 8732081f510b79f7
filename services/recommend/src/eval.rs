//! The offline protocol: each held-out item ranked among its candidates (HR@10, NDCG@10), and
//! precision / recall / F1 at 10 over all unseen items on a per-user holdout.

use crate::data::{Interactions, TestCase};

/// Anything that scores (user, item) pairs: higher is better. Pairs come in `users[k], items[k]`.
pub trait Scorer: Sync {
    fn score_pairs(&self, users: &[u32], items: &[u32]) -> Vec<f32>;
}

impl<T: Scorer + ?Sized> Scorer for &T {
    fn score_pairs(&self, users: &[u32], items: &[u32]) -> Vec<f32> {
        (**self).score_pairs(users, items)
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Metrics {
    pub hr10: f64,
    pub ndcg10: f64,
}

/// The positive's rank among its candidates: the number of candidates scored strictly higher, plus
/// the ties (ties count against the model, so a constant scorer cannot look good).
pub fn rank_of(positive: u32, candidates: &[u32], scores: &[f32]) -> usize {
    let p = candidates.iter().position(|&c| c == positive).map_or(f32::NEG_INFINITY, |k| scores[k]);
    candidates.iter().zip(scores).filter(|(&c, &s)| c != positive && (s > p || s == p || s.is_nan())).count()
}

/// A hit's NDCG@10 gain for a positive at rank `r` (0 = first); none outside the ten.
fn gain_at_10(r: usize) -> Option<f64> {
    (r < 10).then(|| 1.0 / ((r + 2) as f64).log2())
}

/// HR@10 and NDCG@10 over the cases, scoring in large batches.
pub fn leave_one_out(scorer: &dyn Scorer, cases: &[TestCase]) -> Metrics {
    if cases.is_empty() {
        return Metrics::default();
    }
    let (mut hits, mut ndcg) = (0.0, 0.0);
    for chunk in cases.chunks(512) {
        let mut users = Vec::new();
        let mut items = Vec::new();
        for c in chunk {
            users.extend(std::iter::repeat_n(c.user, c.candidates.len()));
            items.extend_from_slice(&c.candidates);
        }
        let scores = scorer.score_pairs(&users, &items);
        let mut at = 0;
        for c in chunk {
            let s = &scores[at..at + c.candidates.len()];
            at += c.candidates.len();
            if let Some(g) = gain_at_10(rank_of(c.positive, &c.candidates, s)) {
                hits += 1.0;
                ndcg += g;
            }
        }
    }
    let n = cases.len() as f64;
    Metrics { hr10: hits / n, ndcg10: ndcg / n }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TopK {
    pub precision10: f64,
    pub recall10: f64,
    pub f1_10: f64,
}

/// Precision, recall and F1 at 10: for every user with held-out items, the ten best-scored items
/// among all those not in the user's training interactions, against the held-out set.
pub fn holdout_top10(scorer: &dyn Scorer, train: &Interactions, held: &[Vec<u32>]) -> TopK {
    let (mut p, mut r, mut n) = (0.0, 0.0, 0usize);
    let all: Vec<u32> = (0..train.n_items as u32).collect();
    for (u, h) in held.iter().enumerate() {
        if h.is_empty() {
            continue;
        }
        let user = u as u32;
        let cand: Vec<u32> = all.iter().copied().filter(|&i| !train.has(user, i)).collect();
        let scores = scorer.score_pairs(&vec![user; cand.len()], &cand);
        let top = top_k(&cand, &scores, 10);
        let hit = top.iter().filter(|i| h.contains(i)).count() as f64;
        p += hit / 10.0;
        r += hit / h.len() as f64;
        n += 1;
    }
    if n == 0 {
        return TopK::default();
    }
    let (p, r) = (p / n as f64, r / n as f64);
    TopK { precision10: p, recall10: r, f1_10: if p + r > 0.0 { 2.0 * p * r / (p + r) } else { 0.0 } }
}

/// The `k` best items by score, best first (ties by item order).
pub fn top_k(items: &[u32], scores: &[f32], k: usize) -> Vec<u32> {
    let mut idx: Vec<usize> = (0..items.len()).collect();
    let k = k.min(idx.len());
    if k == 0 {
        return Vec::new();
    }
    let cmp = |a: &usize, b: &usize| scores[*b].total_cmp(&scores[*a]).then(a.cmp(b));
    if k < idx.len() {
        idx.select_nth_unstable_by(k - 1, cmp);
        idx.truncate(k);
    }
    idx.sort_by(cmp);
    idx.into_iter().map(|i| items[i]).collect()
}

/// Item popularity: the number of users who interacted with the item.
pub struct Popularity {
    counts: Vec<f32>,
}

impl Popularity {
    pub fn fit(train: &Interactions) -> Self {
        Popularity { counts: train.item_counts().into_iter().map(|c| c as f32).collect() }
    }
}

impl Scorer for Popularity {
    fn score_pairs(&self, _users: &[u32], items: &[u32]) -> Vec<f32> {
        items.iter().map(|&i| self.counts.get(i as usize).copied().unwrap_or(0.0)).collect()
    }
}

/// A weighted sum of per-user standardised scores of several scorers (an ensemble).
pub struct Blend<'a> {
    pub parts: Vec<(&'a dyn Scorer, f32)>,
}

impl Scorer for Blend<'_> {
    fn score_pairs(&self, users: &[u32], items: &[u32]) -> Vec<f32> {
        let mut out = vec![0.0f32; items.len()];
        for (s, w) in &self.parts {
            let sc = s.score_pairs(users, items);
            // standardise within each run of the same user (a candidate list)
            let mut start = 0;
            while start < users.len() {
                let mut end = start + 1;
                while end < users.len() && users[end] == users[start] {
                    end += 1;
                }
                let seg = &sc[start..end];
                let n = seg.len() as f32;
                let mean = seg.iter().sum::<f32>() / n;
                let sd = (seg.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / n).sqrt().max(1e-6);
                for k in start..end {
                    out[k] += w * (sc[k] - mean) / sd;
                }
                start = end;
            }
        }
        out
    }
}

/// The ensemble weights that maximise HR@10 (then NDCG@10) on `cases`: coordinate ascent over a
/// grid of weights, starting from equal weights. Each part's standardised scores are computed once,
/// so a pass costs only sums and ranks. Returns the weights and their metrics on `cases`.
pub fn fit_blend_weights(parts: &[&dyn Scorer], cases: &[TestCase]) -> (Vec<f32>, Metrics) {
    const GRID: [f32; 8] = [0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0];
    let mut users = Vec::new();
    let mut items = Vec::new();
    for c in cases {
        users.extend(std::iter::repeat_n(c.user, c.candidates.len()));
        items.extend_from_slice(&c.candidates);
    }
    let std: Vec<Vec<f32>> = parts.iter().map(|&p| Blend { parts: vec![(p, 1.0)] }.score_pairs(&users, &items)).collect();
    let metrics = |w: &[f32]| -> Metrics {
        let (mut hits, mut ndcg, mut at) = (0.0, 0.0, 0);
        let mut s = Vec::new();
        for c in cases {
            let n = c.candidates.len();
            s.clear();
            s.extend((at..at + n).map(|k| std.iter().zip(w).map(|(p, w)| w * p[k]).sum::<f32>()));
            at += n;
            if let Some(g) = gain_at_10(rank_of(c.positive, &c.candidates, &s)) {
                hits += 1.0;
                ndcg += g;
            }
        }
        let n = cases.len().max(1) as f64;
        Metrics { hr10: hits / n, ndcg10: ndcg / n }
    };
    let better = |a: Metrics, b: Metrics| a.hr10 > b.hr10 || (a.hr10 == b.hr10 && a.ndcg10 > b.ndcg10);
    let mut w = vec![1.0f32; parts.len()];
    let mut best = metrics(&w);
    for _pass in 0..3 {
        let mut moved = false;
        for k in 0..parts.len() {
            for g in GRID {
                if g == w[k] {
                    continue;
                }
                let mut t = w.clone();
                t[k] = g;
                if t.iter().all(|&x| x == 0.0) {
                    continue;
                }
                let m = metrics(&t);
                if better(m, best) {
                    (w, best, moved) = (t, m, true);
                }
            }
        }
        if !moved {
            break;
        }
    }
    (w, best)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blend_weights_favour_the_useful_part() {
        // the first part ranks every positive first; the second ranks it last
        let good = Fixed((0..20).map(|i| if i == 0 { 10.0 } else { -(i as f32) }).collect());
        let bad = Fixed((0..20).map(|i| if i == 0 { -10.0 } else { i as f32 }).collect());
        let cases: Vec<TestCase> = (0..5).map(|u| TestCase { user: u, positive: 0, candidates: (0..20).collect() }).collect();
        let (w, m) = fit_blend_weights(&[&good, &bad], &cases);
        assert_eq!(m.hr10, 1.0);
        assert!(w[0] > w[1], "{w:?}");
    }

    struct Fixed(Vec<f32>);
    impl Scorer for Fixed {
        fn score_pairs(&self, _u: &[u32], items: &[u32]) -> Vec<f32> {
            items.iter().map(|&i| self.0[i as usize]).collect()
        }
    }

    #[test]
    fn ranks_hits_and_ndcg() {
        // item 0 is best, item 5 is 6th
        let s = Fixed((0..20).map(|i| 100.0 - i as f32).collect());
        let cases = vec![
            TestCase { user: 0, positive: 0, candidates: (0..20).collect() },
            TestCase { user: 1, positive: 5, candidates: (0..20).collect() },
            TestCase { user: 2, positive: 15, candidates: (0..20).collect() },
        ];
        let m = leave_one_out(&s, &cases);
        assert!((m.hr10 - 2.0 / 3.0).abs() < 1e-9);
        let expect = (1.0 + 1.0 / 7f64.log2()) / 3.0;
        assert!((m.ndcg10 - expect).abs() < 1e-9, "{m:?}");
    }

    #[test]
    fn ties_count_against_the_model() {
        let s = Fixed(vec![1.0; 100]);
        let cases = vec![TestCase { user: 0, positive: 3, candidates: (0..100).collect() }];
        assert_eq!(leave_one_out(&s, &cases).hr10, 0.0);
    }

    #[test]
    fn top_k_orders_best_first() {
        assert_eq!(top_k(&[10, 11, 12, 13], &[0.1, 0.9, 0.5, 0.7], 3), vec![11, 13, 12]);
    }
}
