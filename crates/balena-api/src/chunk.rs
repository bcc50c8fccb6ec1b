//! The one way to split a list of ids over several requests: each `… in (…)` filter gets as
//! many ids as keep the request's `/v7/…` path (with its query) within [`MAX_PATH`].
//!
//! For large writes, [`set_chunks`] and [`id_set`] name a set of ids more compactly: each run
//! of consecutive ids as a range (`(id ge A) and (id le B)`), the ids outside runs in one
//! `id in (…)`. The filter matches exactly the ids of the set, whatever other ids exist.

use crate::odata::{Filter, Lit};

/// The longest `/v7/…` path (with its query) one request may have. Real servers refuse
/// URLs of more than about 16 KB, and front proxies may refuse less: this stays far below.
pub const MAX_PATH: usize = 5_800;

/// Splits `ids` into chunks whose path, as `path_of(chunk)` renders it, stays within
/// [`MAX_PATH`]. A chunk always holds at least one id, even if that one id is too long.
///
/// `path_of` must render the ids as a comma-separated list: the length of a chunk is
/// computed from the path of the empty list plus the ids and their commas, so `path_of`
/// is called once.
pub fn id_chunks(ids: &[i64], path_of: impl Fn(&[i64]) -> String) -> Vec<Vec<i64>> {
    chunks_within(ids, path_of(&[]).len(), MAX_PATH)
}

/// [`id_chunks`] with an explicit base length (the path with no ids) and limit.
pub fn chunks_within(ids: &[i64], base: usize, max: usize) -> Vec<Vec<i64>> {
    let mut out: Vec<Vec<i64>> = Vec::new();
    let mut cur: Vec<i64> = Vec::new();
    let mut len = base;
    for &id in ids {
        let digits = id.to_string().len();
        let add = digits + usize::from(!cur.is_empty());
        if !cur.is_empty() && len + add > max {
            out.push(std::mem::take(&mut cur));
            len = base;
        }
        len += digits + usize::from(!cur.is_empty());
        cur.push(id);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The most ranges one [`id_set`] filter holds (servers bound a filter's depth).
pub const MAX_RANGES: usize = 40;
/// Runs of consecutive ids at least this long are written as a range, shorter ones as ids
/// (a range of 6-digit ids takes about as much as 8 ids listed: a range only for runs
/// clearly shorter that way).
pub const MIN_RUN: usize = 16;

/// A filter on `field` that matches exactly the ids of `ids` (sorted, without duplicates):
/// each run of at least [`MIN_RUN`] consecutive ids as `(field ge A) and (field le B)` (the
/// first [`MAX_RANGES`] such runs), the other ids in one `field in (…)`, all joined by `or`.
pub fn id_set(field: &str, ids: &[i64]) -> Filter {
    let mut parts = Vec::new();
    let mut singles = Vec::new();
    for run in runs(ids) {
        if run.len() >= MIN_RUN && parts.len() < MAX_RANGES {
            parts.push(Filter::And(vec![
                Filter::Ge(field.to_owned(), Lit::Int(run[0])),
                Filter::Le(field.to_owned(), Lit::Int(run[run.len() - 1])),
            ]));
        } else {
            singles.extend_from_slice(run);
        }
    }
    if !singles.is_empty() || parts.is_empty() {
        parts.push(Filter::id_in(field, &singles));
    }
    if parts.len() == 1 {
        parts.pop().expect("one part")
    } else {
        Filter::Or(parts)
    }
}

/// The maximal runs of consecutive ids of `ids` (sorted).
fn runs(ids: &[i64]) -> impl Iterator<Item = &[i64]> {
    let mut rest = ids;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let n = 1 + rest
            .windows(2)
            .take_while(|w| w[1] == w[0].saturating_add(1))
            .count();
        let (run, tail) = rest.split_at(n);
        rest = tail;
        Some(run)
    })
}

/// Splits `ids` (sorted, without duplicates) into chunks of at most `max_ids` ids, each with
/// at most [`MAX_RANGES`] ranges, whose path, as `path_of(&id_set(chunk))` renders it, stays
/// within [`MAX_PATH`]. A chunk always holds at least one id.
pub fn set_chunks(
    ids: &[i64],
    max_ids: usize,
    path_of: impl Fn(&Filter) -> String,
) -> Vec<Vec<i64>> {
    // The length of a chunk is estimated from the path of an empty set, generously; each
    // chunk is then rendered once and split in two if the estimate was wrong.
    let base = path_of(&Filter::id_in("id", &[])).len();
    let max_ids = max_ids.max(1);
    let digits = |id: i64| id.to_string().len();
    let mut out: Vec<Vec<i64>> = Vec::new();
    let mut cur: Vec<i64> = Vec::new();
    let (mut len, mut ranges) = (base, 0usize);
    let mut flush = |cur: &mut Vec<i64>, len: &mut usize, ranges: &mut usize| {
        if !cur.is_empty() {
            out.push(std::mem::take(cur));
        }
        *len = base;
        *ranges = 0;
    };
    for run in runs(ids) {
        let mut run = run;
        while !run.is_empty() {
            let room = max_ids - cur.len();
            let take = run.len().min(room);
            let (part, rest) = run.split_at(take);
            let (add, is_range) = if part.len() >= MIN_RUN && ranges < MAX_RANGES {
                // `(…)%20or%20((id%20ge%20A)%20and%20(id%20le%20B))` and the extra
                // parentheses of joining.
                (48 + digits(part[0]) + digits(part[part.len() - 1]), true)
            } else {
                (part.iter().map(|&i| digits(i) + 1).sum(), false)
            };
            let full = len + add > MAX_PATH;
            if !cur.is_empty() && full {
                flush(&mut cur, &mut len, &mut ranges);
                continue;
            }
            if !is_range && len + add > MAX_PATH {
                // Singles alone overflow an empty chunk: take as many as fit (at least one).
                let mut n = 0;
                let mut l = len;
                while n < part.len() && (n == 0 || l + digits(part[n]) < MAX_PATH) {
                    l += digits(part[n]) + 1;
                    n += 1;
                }
                cur.extend_from_slice(&part[..n]);
                flush(&mut cur, &mut len, &mut ranges);
                run = &run[n..];
                continue;
            }
            cur.extend_from_slice(part);
            len += add;
            ranges += usize::from(is_range);
            if cur.len() == max_ids {
                flush(&mut cur, &mut len, &mut ranges);
            }
            run = rest;
        }
    }
    flush(&mut cur, &mut len, &mut ranges);
    let mut checked = Vec::with_capacity(out.len());
    let mut queue: Vec<Vec<i64>> = out.into_iter().rev().collect();
    while let Some(c) = queue.pop() {
        if c.len() > 1 && path_of(&id_set("id", &c)).len() > MAX_PATH {
            let tail = c[c.len() / 2..].to_vec();
            queue.push(tail);
            queue.push(c[..c.len() / 2].to_vec());
        } else {
            checked.push(c);
        }
    }
    checked
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::odata::{path, Filter, Query};

    #[test]
    fn id_sets_name_exactly_their_ids() {
        let render = |ids: &[i64]| id_set("id", ids).render();
        assert_eq!(render(&[1, 2, 3]), "id%20in%20(1,2,3)");
        assert_eq!(
            render(&(10..=30).collect::<Vec<_>>()),
            "(id%20ge%2010)%20and%20(id%20le%2030)"
        );
        let mut ids: Vec<i64> = (10..=30).collect();
        ids.extend([35, 37]);
        ids.extend(40..=60);
        assert_eq!(
            render(&ids),
            "((id%20ge%2010)%20and%20(id%20le%2030))%20or%20((id%20ge%2040)%20and%20(id%20le%2060))%20or%20(id%20in%20(35,37))"
        );
        // A run shorter than MIN_RUN is listed.
        assert_eq!(
            render(&(1..=15).collect::<Vec<_>>()).matches(',').count(),
            14
        );
        assert_eq!(render(&[]), "id%20in%20()");
    }

    #[test]
    fn set_chunks_cover_the_ids_within_every_bound() {
        let render = |f: &Filter| path("device", &Query::new().filter(f.clone()));
        // Contiguous: chunks of max_ids, one range each.
        let ids: Vec<i64> = (1..=100_000).collect();
        let chunks = set_chunks(&ids, 4_000, render);
        assert_eq!(chunks.len(), 25);
        assert_eq!(chunks.concat(), ids);
        // Every other id (no runs): as many as the path allows, like id_chunks.
        let sparse: Vec<i64> = (0..20_000).map(|i| 100_000 + 2 * i).collect();
        let chunks = set_chunks(&sparse, 4_000, render);
        assert_eq!(chunks.concat(), sparse);
        assert!(chunks.len() >= 20, "{}", chunks.len());
        // Runs of 20 with gaps: ranges, at most MAX_RANGES a chunk, then ids.
        let runs: Vec<i64> = (0..40_000)
            .filter(|i| i % 22 < 20)
            .map(|i| i + 1_000_000)
            .collect();
        let chunks = set_chunks(&runs, 4_000, render);
        assert_eq!(chunks.concat(), runs);
        for set in [&ids, &sparse, &runs] {
            for c in set_chunks(set, 4_000, render) {
                assert!(c.len() <= 4_000);
                let f = render(&id_set("id", &c));
                assert!(f.len() <= MAX_PATH, "{}", f.len());
                assert!(f.matches("%20ge%20").count() <= MAX_RANGES);
            }
        }
        assert!(set_chunks(&[], 10, render).is_empty());
        assert_eq!(set_chunks(&[5, 6], 1, render), [vec![5], vec![6]]);
    }

    #[test]
    fn chunks_keep_paths_within_the_limit() {
        let ids: Vec<i64> = (100_000..110_000).collect();
        let render = |c: &[i64]| path("device", &Query::new().filter(Filter::id_in("id", c)));
        let chunks = id_chunks(&ids, render);
        assert_eq!(chunks.concat(), ids);
        for c in &chunks {
            assert!(render(c).len() <= MAX_PATH, "{}", render(c).len());
        }
        // About 6 KB of 6-digit ids: some 800 per chunk.
        assert!(chunks.len() <= 13, "{}", chunks.len());
        assert_eq!(render(&[1, 2, 3]), "device?$filter=id%20in%20(1,2,3)");
    }

    #[test]
    fn tight_limits_still_make_progress() {
        assert_eq!(
            chunks_within(&[1, 22, 333], 0, 0),
            [vec![1], vec![22], vec![333]]
        );
        // "1,22" fits in base + 4, "333" does not.
        assert_eq!(
            chunks_within(&[1, 22, 333], 10, 14),
            [vec![1, 22], vec![333]]
        );
        assert!(chunks_within(&[], 10, 14).is_empty());
    }
}
