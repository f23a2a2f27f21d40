//! A QR code of the call link, so a phone can scan it off a desktop screen — made here, with no
//! network service and no dependency. Only what a link needs (ISO/IEC 18004:2015): byte mode,
//! error correction level M, versions 1–6 (up to 106 bytes; the links this app makes are ~50–90),
//! all eight masks scored and the best kept. Pure, tested by decoding its own output.

/// Why no code was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QrError {
    /// More bytes than a version 6-M code holds.
    TooLong(usize),
}

impl std::fmt::Display for QrError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QrError::TooLong(n) => write!(f, "{n} bytes is longer than a version 6-M code holds ({MAX_BYTES})"),
        }
    }
}

/// The most bytes a version 6 code at level M holds in byte mode (Table 7).
pub const MAX_BYTES: usize = 106;

/// Per version at level M (Table 9): error correction codewords per block, and the blocks' data
/// codeword counts.
const BLOCKS_M: [(usize, &[usize]); 6] =
    [(10, &[16]), (16, &[28]), (26, &[44]), (18, &[32, 32]), (24, &[43, 43]), (16, &[27, 27, 27, 27])];

/// Format information's error correction bits for level M (Table 12).
const LEVEL_M: u32 = 0b00;

/// A finished symbol: `size`×`size` modules, `true` dark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Qr {
    size: usize,
    modules: Vec<bool>,
}

impl Qr {
    /// The smallest version 1–6 level-M code of `data` in byte mode.
    pub fn encode(data: &[u8]) -> Result<Qr, QrError> {
        let version = (1..=6).find(|&v| data.len() + 2 <= data_codewords(v)).ok_or(QrError::TooLong(data.len()))?;
        let codewords = interleave(version, &data_bits(version, data));
        let base = Matrix::with_function_patterns(version);
        let mut best: Option<(u32, Matrix)> = None;
        for mask in 0..8 {
            let mut candidate = base.clone();
            candidate.place(&codewords);
            candidate.apply_mask(mask);
            candidate.draw_format(format_bits(LEVEL_M, mask));
            let score = candidate.penalty();
            if best.as_ref().is_none_or(|(s, _)| score < *s) {
                best = Some((score, candidate));
            }
        }
        let matrix = best.map(|(_, m)| m).unwrap_or(base);
        Ok(Qr { size: matrix.size, modules: matrix.dark })
    }

    pub fn size(&self) -> usize {
        self.size
    }

    pub fn dark(&self, x: usize, y: usize) -> bool {
        x < self.size && y < self.size && self.modules[y * self.size + x]
    }

    /// An inline SVG with the 4-module quiet zone (§ 6.3.8), one path of unit squares.
    pub fn to_svg(&self) -> String {
        let side = self.size + 8;
        let mut path = String::with_capacity(self.size * self.size * 4);
        for y in 0..self.size {
            for x in 0..self.size {
                if self.dark(x, y) {
                    path.push_str(&format!("M{} {}h1v1h-1z", x + 4, y + 4));
                }
            }
        }
        format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {side} {side}\" shape-rendering=\"crispEdges\" \
             role=\"img\" aria-label=\"QR code of the call link\"><rect width=\"{side}\" height=\"{side}\" \
             fill=\"#fff\"/><path d=\"{path}\" fill=\"#000\"/></svg>"
        )
    }
}

fn data_codewords(version: usize) -> usize {
    BLOCKS_M[version - 1].1.iter().sum()
}

/// Mode indicator 0100 (byte), an 8-bit count (versions 1–9, Table 3), the bytes, the
/// terminator, zero bits to a byte boundary, then the pad bytes 0xEC 0x11 alternately (§ 7.4.10).
fn data_bits(version: usize, data: &[u8]) -> Vec<u8> {
    let capacity = data_codewords(version);
    let mut out = Vec::with_capacity(capacity);
    // Bytes after a 4-bit header are shifted by half a byte.
    let mut carry = 0b0100u8;
    for byte in std::iter::once(data.len() as u8).chain(data.iter().copied()) {
        out.push(carry << 4 | byte >> 4);
        carry = byte & 0x0f;
    }
    out.push(carry << 4); // the last nibble, then the 4-bit terminator 0000
    for pad in [0xec, 0x11].into_iter().cycle() {
        if out.len() >= capacity {
            break;
        }
        out.push(pad);
    }
    out
}

/// Splits the data into blocks, adds each block's error correction, and interleaves (§ 7.6).
fn interleave(version: usize, data: &[u8]) -> Vec<u8> {
    let (ec_len, lengths) = BLOCKS_M[version - 1];
    let mut blocks = Vec::with_capacity(lengths.len());
    let mut start = 0;
    for &len in lengths {
        blocks.push(&data[start..start + len]);
        start += len;
    }
    let ecs: Vec<Vec<u8>> = blocks.iter().map(|b| reed_solomon(b, ec_len)).collect();
    let longest = lengths.iter().copied().max().unwrap_or(0);
    let mut out = Vec::with_capacity(start + ec_len * blocks.len());
    for i in 0..longest {
        out.extend(blocks.iter().filter_map(|b| b.get(i)));
    }
    for i in 0..ec_len {
        out.extend(ecs.iter().map(|e| e[i]));
    }
    out
}

/// GF(256) multiplication modulo x⁸+x⁴+x³+x²+1 (0x11D, § 7.5.2).
fn gf_mul(mut a: u8, mut b: u8) -> u8 {
    let mut product = 0u8;
    while b != 0 {
        if b & 1 != 0 {
            product ^= a;
        }
        let high = a & 0x80 != 0;
        a <<= 1;
        if high {
            a ^= 0x1d;
        }
        b >>= 1;
    }
    product
}

/// The generator polynomial ∏(x − αⁱ), i < `degree`, highest coefficient (1) left out.
fn generator(degree: usize) -> Vec<u8> {
    let mut poly = vec![0u8; degree];
    poly[degree - 1] = 1;
    let mut root = 1u8;
    for _ in 0..degree {
        for j in 0..degree {
            poly[j] = gf_mul(poly[j], root);
            if j + 1 < degree {
                poly[j] ^= poly[j + 1];
            }
        }
        root = gf_mul(root, 2);
    }
    poly
}

/// The `degree` error correction codewords of `data`: the remainder of data·x^degree ÷ g(x).
pub fn reed_solomon(data: &[u8], degree: usize) -> Vec<u8> {
    let divisor = generator(degree);
    let mut remainder = vec![0u8; degree];
    for &byte in data {
        let factor = byte ^ remainder[0];
        remainder.rotate_left(1);
        remainder[degree - 1] = 0;
        for (r, d) in remainder.iter_mut().zip(&divisor) {
            *r ^= gf_mul(*d, factor);
        }
    }
    remainder
}

/// The 15 format bits: level and mask, BCH(15,5) with g = 0x537, XOR 0x5412 (§ 7.9).
pub fn format_bits(level: u32, mask: u32) -> u32 {
    let data = level << 3 | mask;
    let mut rem = data << 10;
    for bit in (10..15).rev() {
        if rem >> bit & 1 != 0 {
            rem ^= 0x537 << (bit - 10);
        }
    }
    (data << 10 | rem) ^ 0x5412
}

/// Whether mask `mask` flips the module at row `i`, column `j` (Table 10).
fn mask_flips(mask: u32, i: usize, j: usize) -> bool {
    match mask {
        0 => (i + j).is_multiple_of(2),
        1 => i.is_multiple_of(2),
        2 => j.is_multiple_of(3),
        3 => (i + j).is_multiple_of(3),
        4 => (i / 2 + j / 3).is_multiple_of(2),
        5 => (i * j) % 2 + (i * j) % 3 == 0,
        6 => ((i * j) % 2 + (i * j) % 3).is_multiple_of(2),
        _ => ((i + j) % 2 + (i * j) % 3).is_multiple_of(2),
    }
}

/// The symbol under construction: modules and which of them are function patterns.
#[derive(Debug, Clone)]
struct Matrix {
    size: usize,
    dark: Vec<bool>,
    function: Vec<bool>,
}

impl Matrix {
    /// Finder patterns and separators, timing patterns, the alignment pattern (versions 2–6
    /// have one), the dark module, and the format areas reserved (§ 6.3).
    fn with_function_patterns(version: usize) -> Matrix {
        let size = 17 + 4 * version;
        let mut m = Matrix { size, dark: vec![false; size * size], function: vec![false; size * size] };
        for i in 0..size {
            m.set(6, i, i.is_multiple_of(2));
            m.set(i, 6, i.is_multiple_of(2));
        }
        for (x, y) in [(3, 3), (size - 4, 3), (3, size - 4)] {
            m.finder(x, y);
        }
        if version >= 2 {
            let c = size - 7;
            for dy in -2i32..=2 {
                for dx in -2i32..=2 {
                    let ring = dx.abs().max(dy.abs());
                    m.set((c as i32 + dx) as usize, (c as i32 + dy) as usize, ring != 1);
                }
            }
        }
        m.draw_format(0); // reserves the areas; the real bits come after masking
        m
    }

    /// A 7×7 finder centred at (x, y) with its light separator, clipped to the symbol.
    fn finder(&mut self, x: usize, y: usize) {
        for dy in -4i32..=4 {
            for dx in -4i32..=4 {
                let (px, py) = (x as i32 + dx, y as i32 + dy);
                if px < 0 || py < 0 || px >= self.size as i32 || py >= self.size as i32 {
                    continue;
                }
                let ring = dx.abs().max(dy.abs());
                self.set(px as usize, py as usize, ring != 2 && ring != 4);
            }
        }
    }

    fn set(&mut self, x: usize, y: usize, dark: bool) {
        let i = y * self.size + x;
        self.dark[i] = dark;
        self.function[i] = true;
    }

    fn get(&self, x: usize, y: usize) -> bool {
        self.dark[y * self.size + x]
    }

    /// Both copies of the format bits, and the dark module (§ 7.9.1, Figure 25).
    fn draw_format(&mut self, bits: u32) {
        let bit = |i: u32| bits >> i & 1 != 0;
        let size = self.size;
        for i in 0..6 {
            self.set(8, i as usize, bit(i));
        }
        self.set(8, 7, bit(6));
        self.set(8, 8, bit(7));
        self.set(7, 8, bit(8));
        for i in 9..15 {
            self.set(14 - i as usize, 8, bit(i));
        }
        for i in 0..8 {
            self.set(size - 1 - i as usize, 8, bit(i));
        }
        for i in 8..15 {
            self.set(8, size - 15 + i as usize, bit(i));
        }
        self.set(8, size - 8, true);
    }

    /// The data modules in placement order: two-column strips from the right, up then down,
    /// skipping the vertical timing column (§ 7.7.3).
    fn data_positions(&self) -> Vec<(usize, usize)> {
        let mut positions = Vec::with_capacity(self.size * self.size);
        let mut right = self.size as i32 - 1;
        while right >= 1 {
            if right == 6 {
                right = 5;
            }
            let upward = ((right + 1) & 2) == 0;
            for step in 0..self.size {
                let y = if upward { self.size - 1 - step } else { step };
                for x in [right as usize, right as usize - 1] {
                    if !self.function[y * self.size + x] {
                        positions.push((x, y));
                    }
                }
            }
            right -= 2;
        }
        positions
    }

    /// Codeword bits, most significant first; leftover modules (remainder bits) stay light.
    fn place(&mut self, codewords: &[u8]) {
        let bits = codewords.iter().flat_map(|c| (0..8).rev().map(move |i| c >> i & 1 != 0));
        for ((x, y), bit) in self.data_positions().into_iter().zip(bits) {
            self.dark[y * self.size + x] = bit;
        }
    }

    fn apply_mask(&mut self, mask: u32) {
        for y in 0..self.size {
            for x in 0..self.size {
                let i = y * self.size + x;
                if !self.function[i] && mask_flips(mask, y, x) {
                    self.dark[i] = !self.dark[i];
                }
            }
        }
    }

    /// The mask penalty of § 7.8.3: runs, 2×2 blocks, finder look-alikes and dark balance.
    fn penalty(&self) -> u32 {
        let n = self.size;
        let mut score = 0u32;
        let lines = |horizontal: bool| {
            (0..n).map(move |a| (0..n).map(move |b| if horizontal { (b, a) } else { (a, b) }).collect::<Vec<_>>())
        };
        for horizontal in [true, false] {
            for line in lines(horizontal) {
                let colours: Vec<bool> = line.iter().map(|&(x, y)| self.get(x, y)).collect();
                let mut run = 1;
                for i in 1..=n {
                    if i < n && colours[i] == colours[i - 1] {
                        run += 1;
                        continue;
                    }
                    if run >= 5 {
                        score += 3 + (run - 5) as u32;
                    }
                    run = 1;
                }
                const LOOK_ALIKE: [bool; 11] = [true, false, true, true, true, false, true, false, false, false, false];
                for window in colours.windows(11) {
                    let forward = window.iter().zip(LOOK_ALIKE.iter()).all(|(a, b)| a == b);
                    let backward = window.iter().zip(LOOK_ALIKE.iter().rev()).all(|(a, b)| a == b);
                    score += 40 * (u32::from(forward) + u32::from(backward));
                }
            }
        }
        for y in 0..n - 1 {
            for x in 0..n - 1 {
                let c = self.get(x, y);
                if c == self.get(x + 1, y) && c == self.get(x, y + 1) && c == self.get(x + 1, y + 1) {
                    score += 3;
                }
            }
        }
        let dark = self.dark.iter().filter(|d| **d).count();
        let percent = dark * 100 / (n * n);
        score + 10 * (percent.abs_diff(50) / 5) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of ISO/IEC 18004 Annex I: "01234567" as a 1-M symbol's data codewords and
    /// the ten error correction codewords the standard lists for them.
    #[test]
    fn reed_solomon_matches_the_standards_worked_example() {
        let data = [0x10, 0x20, 0x0c, 0x56, 0x61, 0x80, 0xec, 0x11, 0xec, 0x11, 0xec, 0x11, 0xec, 0x11, 0xec, 0x11];
        assert_eq!(reed_solomon(&data, 10), [0xa5, 0x24, 0xd4, 0xc1, 0xed, 0x36, 0xc7, 0x87, 0x2c, 0x55]);
    }

    /// Evaluates a codeword (data then error correction) as a polynomial at αⁱ.
    fn syndrome(codeword: &[u8], i: usize) -> u8 {
        let mut x = 1u8;
        for _ in 0..i {
            x = gf_mul(x, 2);
        }
        codeword.iter().fold(0u8, |acc, &c| gf_mul(acc, x) ^ c)
    }

    #[test]
    fn every_block_is_a_reed_solomon_codeword() {
        for degree in [10, 16, 18, 24, 26] {
            let data: Vec<u8> = (0..40u8).map(|i| i.wrapping_mul(37) ^ 0x5a).collect();
            let mut codeword = data.clone();
            codeword.extend(reed_solomon(&data, degree));
            for i in 0..degree {
                assert_eq!(syndrome(&codeword, i), 0, "degree {degree}, syndrome {i}");
            }
        }
    }

    #[test]
    fn format_bits_match_the_standards_table() {
        // Table C.1, mask 0 at each level: L (01), M (00), Q (11), H (10).
        assert_eq!(format_bits(0b01, 0), 0b111011111000100);
        assert_eq!(format_bits(0b00, 0), 0b101010000010010);
        assert_eq!(format_bits(0b11, 0), 0b011010101011111);
        assert_eq!(format_bits(0b10, 0), 0b001011010001001);
        // Every value is a BCH(15,5) codeword once the XOR mask is undone: g divides it.
        for data in 0..32u32 {
            let mut word = (format_bits(data >> 3, data & 7) ^ 0x5412) as u64;
            for bit in (10..15).rev() {
                if word >> bit & 1 != 0 {
                    word ^= 0x537 << (bit - 10);
                }
            }
            assert_eq!(word, 0, "format data {data:05b}");
        }
    }

    #[test]
    fn versions_grow_with_the_link_and_stop_at_six() {
        let size = |n: usize| Qr::encode(&vec![b'a'; n]).map(|q| q.size());
        assert_eq!(size(14), Ok(21));
        assert_eq!(size(15), Ok(25));
        assert_eq!(size(62), Ok(33));
        assert_eq!(size(106), Ok(41));
        assert_eq!(size(107), Err(QrError::TooLong(107)));
    }

    /// Reads a symbol back the way a scanner does, from the structure alone: finder patterns,
    /// the format bits (both copies agree and decode to level M), unmasking, the codewords in
    /// placement order, de-interleaving, every block's syndromes, and the byte-mode payload.
    fn decode(qr: &Qr) -> Vec<u8> {
        let n = qr.size();
        let version = (n - 17) / 4;
        for (fx, fy) in [(0, 0), (n - 7, 0), (0, n - 7)] {
            for dy in 0..7 {
                for dx in 0..7 {
                    let ring = (dx as i32 - 3).abs().max((dy as i32 - 3).abs());
                    assert_eq!(qr.dark(fx + dx, fy + dy), ring != 2, "finder at ({fx},{fy})");
                }
            }
        }
        for i in 8..n - 8 {
            assert_eq!(qr.dark(i, 6), i.is_multiple_of(2), "horizontal timing");
            assert_eq!(qr.dark(6, i), i.is_multiple_of(2), "vertical timing");
        }
        let mut first = 0u32;
        let mut second = 0u32;
        let copy1: Vec<(usize, usize)> =
            (0..6).map(|i| (8, i)).chain([(8, 7), (8, 8), (7, 8)]).chain((9..15).map(|i| (14 - i, 8))).collect();
        let copy2: Vec<(usize, usize)> =
            (0..8).map(|i| (n - 1 - i, 8)).chain((8..15).map(|i| (8, n - 15 + i))).collect();
        for (i, ((x1, y1), (x2, y2))) in copy1.iter().zip(&copy2).enumerate() {
            first |= u32::from(qr.dark(*x1, *y1)) << i;
            second |= u32::from(qr.dark(*x2, *y2)) << i;
        }
        assert_eq!(first, second, "the two format copies differ");
        let mask = (0..8).find(|&m| format_bits(LEVEL_M, m) == first).expect("format bits of level M");
        let m = Matrix::with_function_patterns(version);
        let codewords: Vec<u8> = m
            .data_positions()
            .chunks(8)
            .filter(|c| c.len() == 8)
            .map(|c| c.iter().fold(0u8, |acc, &(x, y)| acc << 1 | u8::from(qr.dark(x, y) ^ mask_flips(mask, y, x))))
            .collect();
        let (ec_len, lengths) = BLOCKS_M[version - 1];
        let total_data: usize = lengths.iter().sum();
        let mut data = Vec::new();
        for (b, &len) in lengths.iter().enumerate() {
            let mut block: Vec<u8> = (0..len).map(|i| codewords[i * lengths.len() + b]).collect();
            data.extend(block.clone());
            block.extend((0..ec_len).map(|i| codewords[total_data + i * lengths.len() + b]));
            for i in 0..ec_len {
                assert_eq!(syndrome(&block, i), 0, "block {b} syndrome {i}");
            }
        }
        assert_eq!(data[0] >> 4, 0b0100, "byte mode");
        let count = usize::from((data[0] & 0x0f) << 4 | data[1] >> 4);
        (0..count).map(|i| (data[1 + i] & 0x0f) << 4 | data[2 + i] >> 4).collect()
    }

    #[test]
    fn a_call_link_reads_back_from_the_symbol() {
        for link in [
            "http://127.0.0.1:8080/?room=yaiaI5LofRmKvvHT".to_owned(),
            "https://call.example.org/?room=AbCdEfGhIjKlMnOp&ice=relay".to_owned(),
            format!("https://connect.example/?room={}", "x".repeat(70)),
            "a".to_owned(),
        ] {
            let qr = Qr::encode(link.as_bytes()).expect("fits");
            assert_eq!(decode(&qr), link.as_bytes(), "{link}");
        }
    }

    #[test]
    fn the_svg_has_a_quiet_zone_and_one_square_per_dark_module() {
        let qr = Qr::encode(b"https://example.org/?room=abc").expect("fits");
        let svg = qr.to_svg();
        let side = qr.size() + 8;
        assert!(svg.starts_with("<svg") && svg.contains(&format!("viewBox=\"0 0 {side} {side}\"")));
        let dark = (0..qr.size()).flat_map(|y| (0..qr.size()).map(move |x| (x, y))).filter(|&(x, y)| qr.dark(x, y));
        assert_eq!(svg.matches("h1v1h-1z").count(), dark.count());
        assert!(svg.contains("M4 4h1v1h-1z"), "the top-left finder's corner, inside the quiet zone");
    }
}
