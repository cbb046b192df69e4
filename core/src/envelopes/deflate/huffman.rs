//! Huffman codes for DEFLATE: code lengths from symbol counts, none longer
//! than a limit, and the canonical codes those lengths stand for.

/// Code lengths for symbols counted `counts` times, none longer than `limit`.
/// Symbols never counted get no code (length 0). At least two symbols get
/// a code, as decoders want a complete code: when fewer were counted, the
/// first unused ones of 0 and 1 are given one too.
pub(super) fn lengths(counts: &[u32], limit: u32, lengths: &mut [u8]) {
    debug_assert!(counts.len() == lengths.len() && counts.len() >= 2);
    lengths.fill(0);
    let mut used: Vec<(u32, u16)> = counts
        .iter()
        .enumerate()
        .filter(|(_, &c)| c > 0)
        .map(|(s, &c)| (c, s as u16))
        .collect();
    let mut filler = 0;
    while used.len() < 2 {
        if !used.iter().any(|&(_, s)| s == filler) {
            used.push((1, filler));
        }
        filler += 1;
    }
    used.sort_unstable();
    let mut weights: Vec<u32> = used.iter().map(|&(c, _)| c).collect();
    loop {
        let mut depth = weights.clone();
        minimum_redundancy(&mut depth);
        // `depth` is longest first (the rarest symbol deepest).
        if depth[0] <= limit {
            for (&(_, s), &d) in used.iter().zip(&depth) {
                lengths[s as usize] = d as u8;
            }
            return;
        }
        // Too deep: flatten the counts and build again. Halving keeps the
        // order, so the weights stay sorted; it ends at equal weights, whose
        // tree is balanced (9 levels for DEFLATE's largest alphabet).
        for w in &mut weights {
            *w = (*w >> 1) | 1;
        }
    }
}

/// Moffat and Katajainen's in-place computation of Huffman code lengths:
/// `a` holds weights in ascending order and leaves with each one's code
/// length. Needs two weights or more.
fn minimum_redundancy(a: &mut [u32]) {
    let n = a.len();
    debug_assert!(n >= 2);
    // Phase 1: merge into a tree whose internal nodes hold parent indexes.
    a[0] += a[1];
    let (mut root, mut leaf) = (0, 2);
    for next in 1..n - 1 {
        if leaf >= n || a[root] < a[leaf] {
            a[next] = a[root];
            a[root] = next as u32;
            root += 1;
        } else {
            a[next] = a[leaf];
            leaf += 1;
        }
        if leaf >= n || (root < next && a[root] < a[leaf]) {
            a[next] += a[root];
            a[root] = next as u32;
            root += 1;
        } else {
            a[next] += a[leaf];
            leaf += 1;
        }
    }
    // Phase 2: internal nodes' depths.
    a[n - 2] = 0;
    for next in (0..n.saturating_sub(2)).rev() {
        a[next] = a[a[next] as usize] + 1;
    }
    // Phase 3: leaves' depths, deepest first.
    let (mut avail, mut used, mut depth) = (1i64, 0i64, 0u32);
    let mut root = n as i64 - 2;
    let mut next = n as i64 - 1;
    while avail > 0 {
        while root >= 0 && a[root as usize] == depth {
            used += 1;
            root -= 1;
        }
        while avail > used {
            a[next as usize] = depth;
            next -= 1;
            avail -= 1;
        }
        avail = 2 * used;
        depth += 1;
        used = 0;
    }
}

/// The canonical codes of `lengths` (RFC 1951 3.2.2), bit-reversed so that
/// they can be written least significant bit first.
pub(super) fn codes(lengths: &[u8], codes: &mut [u16]) {
    let mut count = [0u16; 16];
    for &l in lengths {
        count[l as usize] += 1;
    }
    count[0] = 0;
    let mut next = [0u16; 16];
    let mut code = 0u16;
    for bits in 1..16 {
        code = (code + count[bits - 1]) << 1;
        next[bits] = code;
    }
    for (c, &l) in codes.iter_mut().zip(lengths) {
        if l > 0 {
            let v = next[l as usize];
            next[l as usize] += 1;
            *c = v.reverse_bits() >> (16 - u32::from(l));
        } else {
            *c = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Kraft's sum of a complete code is exactly 1.
    fn kraft(lengths: &[u8]) -> f64 {
        lengths
            .iter()
            .filter(|&&l| l > 0)
            .map(|&l| 0.5f64.powi(i32::from(l)))
            .sum()
    }

    /// Skewed counts (Fibonacci, whose optimal code is as deep as there are
    /// symbols) are held to the limit with a complete code; the common ones
    /// get the short codes; unused symbols none.
    #[test]
    fn lengths_are_complete_and_limited() {
        let mut counts = vec![0u32; 40];
        let (mut a, mut b) = (1u32, 1u32);
        for c in counts.iter_mut().skip(5).take(30) {
            *c = a;
            (a, b) = (b, a.saturating_add(b));
        }
        for limit in [7, 9, 15] {
            let mut l = vec![0u8; 40];
            lengths(&counts, limit, &mut l);
            assert!(l.iter().all(|&x| u32::from(x) <= limit), "{l:?}");
            assert_eq!(kraft(&l), 1.0, "{l:?}");
            assert!(l[..5].iter().chain(&l[35..]).all(|&x| x == 0));
            assert!(l[34] <= l[5], "{l:?}");
        }
        let mut l = vec![0u8; 40];
        lengths(&counts, 40, &mut l);
        assert_eq!(l.iter().max(), Some(&29), "unlimited, Fibonacci is a chain");
    }

    /// One symbol, or none, still makes a complete code of two.
    #[test]
    fn a_lone_symbol_gets_a_partner() {
        let mut l = [0u8; 5];
        lengths(&[0, 0, 0, 9, 0], 15, &mut l);
        assert_eq!(l, [1, 0, 0, 1, 0]);
        lengths(&[0, 0, 0, 0, 0], 15, &mut l);
        assert_eq!(l, [1, 1, 0, 0, 0]);
        lengths(&[4, 0, 0, 0, 0], 15, &mut l);
        assert_eq!(l, [1, 1, 0, 0, 0]);
    }

    /// RFC 1951's own example: lengths (3, 3, 3, 3, 3, 2, 4, 4) give codes
    /// 010, 011, 100, 101, 110, 00, 1110, 1111 (here bit-reversed).
    #[test]
    fn canonical_codes_follow_the_rfc() {
        let l = [3u8, 3, 3, 3, 3, 2, 4, 4];
        let mut c = [0u16; 8];
        codes(&l, &mut c);
        let want = [0b010u16, 0b011, 0b100, 0b101, 0b110, 0b00, 0b1110, 0b1111];
        for i in 0..8 {
            let back = c[i].reverse_bits() >> (16 - u32::from(l[i]));
            assert_eq!(back, want[i], "symbol {i}");
        }
    }
}
