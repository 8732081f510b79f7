//! Implicit-feedback data: users × items as dense indices, and the readers for the offline datasets.
//!
//! Three folder layouts are recognised by their files' suffixes, whatever the prefix:
//! - the NCF split (He et al., 2017): `*.train.rating[.gz]`, `*.test.rating[.gz]`,
//!   `*.test.negative[.gz]` — the held-out item is ranked among the fixed negatives;
//! - RecBole atomic files with titles: `*.item` (`item_id title`) and `*.test.inter[.gz]` (`user
//!   history target`) — leave-one-out, 99 negatives sampled per seed;
//! - one sequence per line: `*.txt` (`user item item …`, 1-based ids), optional
//!   `*_item2attributes.json` — leave-one-out, 99 negatives sampled per seed.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::{RecError, Result};

/// Who interacted with what, in time order per user (duplicates removed, first occurrence kept).
#[derive(Clone, Debug, Default)]
pub struct Interactions {
    pub n_users: usize,
    pub n_items: usize,
    pub by_user: Vec<Vec<u32>>,
    /// `by_user` sorted, for membership tests.
    sorted: Vec<Vec<u32>>,
    /// Optional per-interaction weights, parallel to `by_user` (empty = every weight 1).
    weights: Vec<Vec<f32>>,
}

impl Interactions {
    pub fn new(n_users: usize, n_items: usize, mut by_user: Vec<Vec<u32>>) -> Self {
        by_user.resize(n_users, Vec::new());
        for items in &mut by_user {
            let mut seen = HashSet::with_capacity(items.len());
            items.retain(|i| seen.insert(*i));
        }
        let sorted = by_user
            .iter()
            .map(|v| {
                let mut s = v.clone();
                s.sort_unstable();
                s
            })
            .collect();
        Interactions { n_users, n_items, by_user, sorted, weights: Vec::new() }
    }

    /// Interactions with a weight each (e.g. a purchase counts more than a view); pairs are
    /// (item, weight) in time order, duplicates keep their largest weight.
    pub fn weighted(n_users: usize, n_items: usize, rows: Vec<Vec<(u32, f32)>>) -> Self {
        let mut by_user = Vec::with_capacity(rows.len());
        let mut weights = Vec::with_capacity(rows.len());
        for r in rows {
            let mut best: std::collections::HashMap<u32, f32> = std::collections::HashMap::new();
            for &(i, w) in &r {
                let e = best.entry(i).or_insert(w);
                *e = e.max(w);
            }
            let mut seen = HashSet::new();
            let items: Vec<u32> = r.iter().map(|x| x.0).filter(|i| seen.insert(*i)).collect();
            weights.push(items.iter().map(|i| best[i]).collect());
            by_user.push(items);
        }
        let mut me = Interactions::new(n_users, n_items, by_user);
        weights.resize(n_users, Vec::new());
        me.weights = weights;
        me
    }

    /// The weight of the user's `k`-th interaction (1 when unweighted).
    pub fn weight(&self, user: usize, k: usize) -> f32 {
        self.weights.get(user).and_then(|w| w.get(k)).copied().unwrap_or(1.0)
    }

    pub fn len(&self) -> usize {
        self.by_user.iter().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn has(&self, user: u32, item: u32) -> bool {
        self.sorted.get(user as usize).is_some_and(|s| s.binary_search(&item).is_ok())
    }

    /// How many users interacted with each item.
    pub fn item_counts(&self) -> Vec<u32> {
        let mut c = vec![0u32; self.n_items];
        for items in &self.by_user {
            for &i in items {
                c[i as usize] += 1;
            }
        }
        c
    }

    /// A uniformly drawn item the user has not interacted with (none when the user has them all).
    pub fn negative(&self, user: u32, rng: &mut impl Rng) -> Option<u32> {
        let known = self.sorted.get(user as usize).map_or(0, Vec::len);
        if known >= self.n_items {
            return None;
        }
        loop {
            let i = rng.gen_range(0..self.n_items as u32);
            if !self.has(user, i) {
                return Some(i);
            }
        }
    }

    /// Holds out each user's latest interaction (users with at least two) as a validation case
    /// ranked among `negatives` sampled items, and returns the rest for training.
    pub fn split_last(&self, negatives: usize, seed: u64) -> (Interactions, Vec<TestCase>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut train = Vec::with_capacity(self.n_users);
        let mut cases = Vec::new();
        for (u, items) in self.by_user.iter().enumerate() {
            let keep = if items.len() >= 2 {
                cases.push(self.case(u as u32, items[items.len() - 1], negatives, &mut rng));
                items.len() - 1
            } else {
                items.len()
            };
            train.push(items[..keep].iter().enumerate().map(|(k, &i)| (i, self.weight(u, k))).collect::<Vec<_>>());
        }
        if self.weights.is_empty() {
            let plain = train.into_iter().map(|r| r.into_iter().map(|x| x.0).collect()).collect();
            (Interactions::new(self.n_users, self.n_items, plain), cases)
        } else {
            (Interactions::weighted(self.n_users, self.n_items, train), cases)
        }
    }

    /// Holds out a random `fraction` of each user's interactions (users with at least five), for the
    /// precision / recall protocol; returns (train, held-out items per user).
    pub fn split_fraction(&self, fraction: f64, seed: u64) -> (Interactions, Vec<Vec<u32>>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut train = Vec::with_capacity(self.n_users);
        let mut held = Vec::with_capacity(self.n_users);
        for items in &self.by_user {
            if items.len() >= 5 {
                let mut idx: Vec<usize> = (0..items.len()).collect();
                idx.shuffle(&mut rng);
                let k = ((items.len() as f64) * fraction).round().max(1.0) as usize;
                let out: HashSet<usize> = idx[..k].iter().copied().collect();
                train.push(items.iter().enumerate().filter(|(j, _)| !out.contains(j)).map(|(_, &i)| i).collect());
                held.push(items.iter().enumerate().filter(|(j, _)| out.contains(j)).map(|(_, &i)| i).collect());
            } else {
                train.push(items.clone());
                held.push(Vec::new());
            }
        }
        (Interactions::new(self.n_users, self.n_items, train), held)
    }

    /// A test case: `positive` among `negatives` items the user never interacted with.
    fn case(&self, user: u32, positive: u32, negatives: usize, rng: &mut impl Rng) -> TestCase {
        let mut set = HashSet::new();
        set.insert(positive);
        let room = self.n_items.saturating_sub(self.sorted[user as usize].len() + 1);
        while set.len() < (negatives.min(room) + 1) {
            if let Some(n) = self.negative(user, rng) {
                if n != positive {
                    set.insert(n);
                }
            } else {
                break;
            }
        }
        let mut candidates: Vec<u32> = set.into_iter().collect();
        candidates.sort_unstable();
        TestCase { user, positive, candidates }
    }
}

/// One held-out interaction and the candidates it is ranked among (the positive included, no
/// duplicates: the reference evaluator builds the list as a set).
#[derive(Clone, Debug)]
pub struct TestCase {
    pub user: u32,
    pub positive: u32,
    pub candidates: Vec<u32>,
}

/// A dataset ready for evaluation.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub name: String,
    pub train: Interactions,
    pub test: Vec<TestCase>,
    /// Item texts (titles) for the content model, where the folder has them.
    pub item_text: Option<Vec<String>>,
    /// Item attribute ids for the content model, where the folder has them.
    pub item_attrs: Option<Vec<Vec<u32>>>,
    /// Whether the negatives were sampled here (then the evaluation averages over several seeds).
    pub sampled: bool,
}

fn open(path: &Path) -> Result<Box<dyn BufRead>> {
    let f = std::fs::File::open(path).map_err(|source| RecError::Io { path: path.display().to_string(), source })?;
    let r: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") { Box::new(flate2::read::GzDecoder::new(f)) } else { Box::new(f) };
    Ok(Box::new(BufReader::with_capacity(1 << 20, r)))
}

fn lines(path: &Path) -> Result<impl Iterator<Item = Result<(usize, String)>>> {
    let p = path.display().to_string();
    Ok(open(path)?.lines().enumerate().map(move |(n, l)| l.map(|l| (n + 1, l)).map_err(|source| RecError::Io { path: p.clone(), source })))
}

/// The one file in `dir` whose name ends with `suffix` or `suffix.gz`.
fn find(dir: &Path, suffix: &str) -> Result<Option<PathBuf>> {
    let mut found = Vec::new();
    let rd = std::fs::read_dir(dir).map_err(|source| RecError::Io { path: dir.display().to_string(), source })?;
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(suffix) || name.ends_with(&format!("{suffix}.gz")) {
            found.push(e.path());
        }
    }
    found.sort();
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.pop()),
        _ => Err(RecError::Data(format!("{} holds several *{suffix} files: {found:?}", dir.display()))),
    }
}

fn bad(path: &Path, line: usize, what: &str) -> RecError {
    RecError::Data(format!("{}:{line}: {what}", path.display()))
}

fn num<T: std::str::FromStr>(path: &Path, line: usize, s: &str, what: &str) -> Result<T> {
    s.trim().parse().map_err(|_| bad(path, line, &format!("{what} {s:?} is not a number")))
}

/// Reads a dataset folder. `seed` draws the negatives of folders that do not fix them.
pub fn load(dir: &Path, seed: u64) -> Result<Dataset> {
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| dir.display().to_string());
    if !dir.is_dir() {
        return Err(RecError::Data(format!("{} is not a folder", dir.display())));
    }
    if let (Some(train), Some(test), Some(neg)) = (find(dir, ".train.rating")?, find(dir, ".test.rating")?, find(dir, ".test.negative")?) {
        return load_ncf(name, &train, &test, &neg);
    }
    if let (Some(items), Some(inter)) = (find(dir, ".item")?, find(dir, ".test.inter")?) {
        return load_recbole(name, &items, &inter, seed);
    }
    let attrs = find(dir, "_item2attributes.json")?;
    let mut seqs = Vec::new();
    for e in std::fs::read_dir(dir).map_err(|source| RecError::Io { path: dir.display().to_string(), source })?.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if n.ends_with(".txt") && !n.contains("sequence") {
            seqs.push(e.path());
        }
    }
    if seqs.len() == 1 {
        return load_sequences(name, &seqs[0], attrs.as_deref(), seed);
    }
    Err(RecError::Data(format!(
        "{} holds no dataset this reader knows: expected *.train.rating, *.test.rating and *.test.negative (NCF), \
         *.item and *.test.inter (RecBole), or one *.txt of sequences",
        dir.display()
    )))
}

fn load_ncf(name: String, train: &Path, test: &Path, neg: &Path) -> Result<Dataset> {
    let mut rows: Vec<(u32, u32, i64)> = Vec::new();
    for l in lines(train)? {
        let (n, l) = l?;
        let f: Vec<&str> = l.split('\t').collect();
        if f.len() < 2 {
            if l.trim().is_empty() {
                continue;
            }
            return Err(bad(train, n, "expected user<TAB>item[<TAB>rating<TAB>timestamp]"));
        }
        let ts = if f.len() >= 4 { num(train, n, f[3], "timestamp")? } else { n as i64 };
        rows.push((num(train, n, f[0], "user")?, num(train, n, f[1], "item")?, ts));
    }
    let mut tests: Vec<(u32, u32)> = Vec::new();
    for l in lines(test)? {
        let (n, l) = l?;
        if l.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = l.split('\t').collect();
        if f.len() < 2 {
            return Err(bad(test, n, "expected user<TAB>item"));
        }
        tests.push((num(test, n, f[0], "user")?, num(test, n, f[1], "item")?));
    }
    let mut negs: std::collections::HashMap<(u32, u32), Vec<u32>> = Default::default();
    for l in lines(neg)? {
        let (n, l) = l?;
        if l.trim().is_empty() {
            continue;
        }
        let mut f = l.split('\t');
        let head = f.next().unwrap_or("");
        let pair = head.trim().trim_start_matches('(').trim_end_matches(')');
        let (u, i) = pair.split_once(',').ok_or_else(|| bad(neg, n, "expected (user,item) then negatives"))?;
        let key = (num(neg, n, u, "user")?, num(neg, n, i, "item")?);
        let items = f.filter(|s| !s.trim().is_empty()).map(|s| num(neg, n, s, "negative item")).collect::<Result<Vec<u32>>>()?;
        negs.insert(key, items);
    }
    let n_users = rows.iter().map(|r| r.0).chain(tests.iter().map(|t| t.0)).max().map_or(0, |m| m as usize + 1);
    let n_items = rows
        .iter()
        .map(|r| r.1)
        .chain(tests.iter().map(|t| t.1))
        .chain(negs.values().flatten().copied())
        .max()
        .map_or(0, |m| m as usize + 1);
    rows.sort_by_key(|r| (r.0, r.2));
    let mut by_user = vec![Vec::new(); n_users];
    for (u, i, _) in rows {
        by_user[u as usize].push(i);
    }
    let mut cases = Vec::with_capacity(tests.len());
    for (u, i) in tests {
        let ng = negs.get(&(u, i)).ok_or_else(|| RecError::Data(format!("{}: no negatives for ({u},{i})", neg.display())))?;
        let mut set: Vec<u32> = ng.iter().copied().chain(std::iter::once(i)).collect();
        set.sort_unstable();
        set.dedup();
        cases.push(TestCase { user: u, positive: i, candidates: set });
    }
    Ok(Dataset { name, train: Interactions::new(n_users, n_items, by_user), test: cases, item_text: None, item_attrs: None, sampled: false })
}

/// Leave-one-out over full sequences: the last item is the test case, 99 negatives drawn with `seed`.
fn leave_last_out(n_users: usize, n_items: usize, seqs: Vec<Vec<u32>>, seed: u64) -> (Interactions, Vec<TestCase>) {
    let full = Interactions::new(n_users, n_items, seqs);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut train = Vec::with_capacity(n_users);
    let mut cases = Vec::new();
    for (u, items) in full.by_user.iter().enumerate() {
        if items.len() >= 2 {
            train.push(items[..items.len() - 1].to_vec());
            cases.push(full.case(u as u32, items[items.len() - 1], 99, &mut rng));
        } else {
            train.push(items.clone());
        }
    }
    (Interactions::new(n_users, n_items, train), cases)
}

fn load_recbole(name: String, items: &Path, inter: &Path, seed: u64) -> Result<Dataset> {
    let mut titles: Vec<(u32, String)> = Vec::new();
    for l in lines(items)? {
        let (n, l) = l?;
        if n == 1 && l.contains(':') {
            continue; // the header: item_id:token title:token_seq
        }
        let Some((id, title)) = l.split_once('\t') else { continue };
        titles.push((num(items, n, id, "item id")?, decode_entities(title)));
    }
    let mut seqs: Vec<(u32, Vec<u32>)> = Vec::new();
    for l in lines(inter)? {
        let (n, l) = l?;
        if n == 1 && l.contains(':') {
            continue;
        }
        let f: Vec<&str> = l.split('\t').collect();
        if f.len() < 3 {
            return Err(bad(inter, n, "expected user<TAB>history<TAB>item"));
        }
        let mut s = f[1].split_whitespace().map(|x| num(inter, n, x, "item")).collect::<Result<Vec<u32>>>()?;
        s.push(num(inter, n, f[2], "item")?);
        seqs.push((num(inter, n, f[0], "user")?, s));
    }
    let n_items = titles.iter().map(|t| t.0).chain(seqs.iter().flat_map(|s| s.1.iter().copied())).max().map_or(0, |m| m as usize + 1);
    let n_users = seqs.iter().map(|s| s.0).max().map_or(0, |m| m as usize + 1);
    let mut by_user = vec![Vec::new(); n_users];
    for (u, s) in seqs {
        by_user[u as usize] = s;
    }
    let mut text = vec![String::new(); n_items];
    for (i, t) in titles {
        text[i as usize] = t;
    }
    let (train, test) = leave_last_out(n_users, n_items, by_user, seed);
    Ok(Dataset { name, train, test, item_text: Some(text), item_attrs: None, sampled: true })
}

fn load_sequences(name: String, seqs_path: &Path, attrs: Option<&Path>, seed: u64) -> Result<Dataset> {
    let mut seqs: Vec<Vec<u32>> = Vec::new();
    for l in lines(seqs_path)? {
        let (n, l) = l?;
        let mut f = l.split_whitespace();
        if f.next().is_none() {
            continue;
        }
        let s = f.map(|x| num::<u32>(seqs_path, n, x, "item").map(|i| i.saturating_sub(1))).collect::<Result<Vec<u32>>>()?;
        seqs.push(s);
    }
    let mut n_items = seqs.iter().flatten().max().map_or(0, |m| *m as usize + 1);
    let item_attrs = match attrs {
        Some(p) => {
            let raw = std::fs::read_to_string(p).map_err(|source| RecError::Io { path: p.display().to_string(), source })?;
            let map: std::collections::HashMap<String, Vec<u32>> =
                serde_json::from_str(&raw).map_err(|e| RecError::Data(format!("{}: {e}", p.display())))?;
            let mut v: Vec<(usize, Vec<u32>)> = Vec::new();
            for (k, a) in map {
                let i: usize = k.parse().map_err(|_| RecError::Data(format!("{}: item id {k:?} is not a number", p.display())))?;
                v.push((i.saturating_sub(1), a));
            }
            n_items = n_items.max(v.iter().map(|x| x.0 + 1).max().unwrap_or(0));
            let mut out = vec![Vec::new(); n_items];
            for (i, a) in v {
                out[i] = a;
            }
            Some(out)
        }
        None => None,
    };
    let n_users = seqs.len();
    let (train, test) = leave_last_out(n_users, n_items, seqs, seed);
    Ok(Dataset { name, train, test, item_text: None, item_attrs, sampled: true })
}

fn decode_entities(s: &str) -> String {
    s.replace("&amp;", "&").replace("&quot;", "\"").replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">")
}

/// A small synthetic dataset with structure a model can learn: users belong to taste clusters and
/// mostly pick items of their cluster, more popular items more often. For tests and examples.
pub fn synthetic(n_users: usize, n_items: usize, clusters: usize, per_user: usize, seed: u64) -> Interactions {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut by_user = Vec::with_capacity(n_users);
    for u in 0..n_users {
        let c = u % clusters;
        let mut items = Vec::new();
        let mut seen = HashSet::new();
        while items.len() < per_user.min(n_items) {
            let in_cluster = rng.gen_bool(0.85);
            // popularity skew: the square of a uniform draw favours low ranks
            let r: f64 = rng.gen::<f64>().powi(2);
            let i = if in_cluster {
                let size = n_items / clusters;
                (c * size + (r * size as f64) as usize).min(n_items - 1)
            } else {
                (r * n_items as f64) as usize
            } as u32;
            if seen.insert(i) {
                items.push(i);
            }
        }
        by_user.push(items);
    }
    Interactions::new(n_users, n_items, by_user)
}
