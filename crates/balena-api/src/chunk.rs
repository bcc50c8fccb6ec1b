//! The one way to split a list of ids over several requests: each `… in (…)` filter gets as
//! many ids as keep the request's `/v7/…` path (with its query) within [`MAX_PATH`].

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::odata::{path, Filter, Query};

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
