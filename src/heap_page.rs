//! One column of the tuples on a heap page, read from the page's bytes alone
//! (no PostgreSQL calls): `kmeans_fit`'s load reads its feature column this
//! way from each page `direct_scan::PageScan` gives, with no slot and no call
//! into PostgreSQL per row.
//!
//! This is what `heap_getattr` does for an inline value: walk the attributes
//! before the column (NULL bitmap, alignment, lengths) to its offset. Values
//! PostgreSQL would have to fetch or decompress (TOAST pointers, compressed
//! inline values) and attributes a tuple does not store (columns added after it
//! was written, which may have a default) are [`Value::Unreadable`]: the caller
//! then reads that value through PostgreSQL (`PageScan::value`).
//!
//! The layout is PostgreSQL's on-disk heap format (`bufpage.h`, `itemid.h`,
//! `htup_details.h`), unchanged since 8.3; a unit test in `direct_scan.rs`
//! checks the offsets against pg_sys. Little-endian only (the varlena header bits differ on
//! big-endian machines, where callers do not use this).

/// `SizeOfPageHeaderData`: where the line pointer array starts.
pub const PAGE_HEADER_BYTES: usize = 24;
/// `offsetof(PageHeaderData, pd_upper)`: where the tuple area's start is kept.
pub const PD_UPPER_AT: usize = 14;
/// `offsetof(HeapTupleHeaderData, t_infomask2)`, `t_infomask`, `t_hoff`, `t_bits`.
pub const INFOMASK2_AT: usize = 18;
pub const INFOMASK_AT: usize = 20;
pub const HOFF_AT: usize = 22;
pub const BITS_AT: usize = 23;
const HEAP_NATTS_MASK: u16 = 0x07FF;
const HEAP_HASNULL: u16 = 0x0001;
/// `VARTAG_ONDISK`'s pointer size plus the 2-byte external header.
const EXTERNAL_ONDISK_BYTES: usize = 2 + 16;

/// Whether this build can read pages itself (see the module comment).
pub const SUPPORTED: bool = cfg!(target_endian = "little");

/// How one attribute is stored: `attlen` (> 0 fixed, -1 varlena, -2 C
/// string) and the alignment in bytes (`attalign`: 'c' 1, 's' 2, 'i' 4, 'd' 8).
#[derive(Clone, Copy, Debug)]
pub struct Attribute {
    pub len: i16,
    pub align: usize,
}

impl Attribute {
    /// From `pg_attribute`'s `attlen` and `attalign` character.
    pub fn from_catalog(attlen: i16, attalign: u8) -> Attribute {
        let align = match attalign {
            b'c' => 1,
            b's' => 2,
            b'i' => 4,
            _ => 8,
        };
        Attribute { len: attlen, align }
    }
}

/// A column's value in one tuple.
#[derive(Debug, PartialEq)]
pub enum Value<'p> {
    Null,
    /// fixed-length: its bytes; varlena: the bytes after the header
    Inline(&'p [u8]),
    /// TOASTed, compressed, missing from the tuple, or a malformed tuple
    Unreadable,
}

/// Reads the attribute `attributes.len()` (1-based: the last one given) of
/// tuples; `attributes` are the table's first ones, dropped columns included.
#[derive(Clone, Debug)]
pub struct ColumnReader {
    attributes: Vec<Attribute>,
}

#[inline(always)]
fn align(offset: usize, to: usize) -> usize {
    (offset + to - 1) & !(to - 1)
}

#[inline(always)]
fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

#[inline(always)]
fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// Where `page`'s tuples start (`pd_upper`), at most the page's length.
#[inline]
pub fn tuples_start(page: &[u8]) -> usize {
    u16_at(page, PD_UPPER_AT).map_or(page.len(), |upper| usize::from(upper).min(page.len()))
}

impl ColumnReader {
    /// `attributes`: the table's attributes 1 ..= the column read (at least one).
    pub fn new(attributes: Vec<Attribute>) -> ColumnReader {
        assert!(!attributes.is_empty(), "a column to read");
        ColumnReader { attributes }
    }

    /// The column in the tuple at line pointer `offset` (1-based, as
    /// `OffsetNumber`) of `page`; `offset` must be a normal (used) line pointer.
    #[inline]
    pub fn read<'p>(&self, page: &'p [u8], offset: u16) -> Value<'p> {
        self.try_read(page, offset).unwrap_or(Value::Unreadable)
    }

    #[inline(always)]
    fn try_read<'p>(&self, page: &'p [u8], offset: u16) -> Option<Value<'p>> {
        let item = u32_at(page, PAGE_HEADER_BYTES + 4 * (usize::from(offset).checked_sub(1)?))?;
        // ItemIdData { lp_off:15, lp_flags:2, lp_len:15 }, low bits first
        let (start, len) = ((item & 0x7FFF) as usize, (item >> 17) as usize);
        let tuple = page.get(start..start + len)?;
        let natts = u16_at(tuple, INFOMASK2_AT)? & HEAP_NATTS_MASK;
        if usize::from(natts) < self.attributes.len() {
            return Some(Value::Unreadable); // stored before the column was added: its default applies
        }
        let has_nulls = u16_at(tuple, INFOMASK_AT)? & HEAP_HASNULL != 0;
        let data = tuple.get(usize::from(*tuple.get(HOFF_AT)?)..)?;
        let last = self.attributes.len() - 1;
        let mut at = 0usize;
        for (i, attribute) in self.attributes.iter().enumerate() {
            if has_nulls && tuple.get(BITS_AT + i / 8)? & (1 << (i % 8)) == 0 {
                if i == last {
                    return Some(Value::Null);
                }
                continue;
            }
            let (start, size, payload_from) = match attribute.len {
                n if n > 0 => {
                    at = align(at, attribute.align);
                    (at, n as usize, 0)
                }
                -1 => {
                    // a non-zero byte starts a 1-byte-header varlena, stored unaligned
                    if *data.get(at)? == 0 {
                        at = align(at, attribute.align);
                    }
                    let first = *data.get(at)?;
                    match first {
                        0x01 if i == last => return Some(Value::Unreadable), // TOAST pointer
                        0x01 => {
                            // only on-disk pointers are stored in tables
                            if *data.get(at + 1)? != 18 {
                                return None;
                            }
                            (at, EXTERNAL_ONDISK_BYTES, 0)
                        }
                        b if b & 0x01 == 0x01 => (at, usize::from(b >> 1), 1),
                        b if b & 0x03 == 0x02 && i == last => return Some(Value::Unreadable), // compressed
                        _ => (at, (u32_at(data, at)? >> 2) as usize, 4),
                    }
                }
                -2 => {
                    let rest = data.get(at..)?;
                    (at, rest.iter().position(|&b| b == 0)? + 1, 0)
                }
                _ => return None,
            };
            if i == last {
                return Some(Value::Inline(data.get(start + payload_from..start + size)?));
            }
            at = start + size;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A page with one tuple at line pointer 1 holding `data` after a header
    /// of `natts` attributes and the NULL bitmap `bits` (None: no NULLs).
    fn page_with(natts: u16, bits: Option<u8>, data: &[u8]) -> Vec<u8> {
        let mut page = vec![0u8; 8192];
        let hoff = 24; // 23 header bytes (+ 1 bitmap byte), MAXALIGNed
        let mut tuple = vec![0u8; hoff];
        tuple[INFOMASK2_AT..INFOMASK2_AT + 2].copy_from_slice(&natts.to_le_bytes());
        if let Some(b) = bits {
            tuple[INFOMASK_AT..INFOMASK_AT + 2].copy_from_slice(&HEAP_HASNULL.to_le_bytes());
            tuple[BITS_AT] = b;
        }
        tuple[HOFF_AT] = hoff as u8;
        tuple.extend_from_slice(data);
        let start = 8192 - ((tuple.len() + 7) & !7);
        page[start..start + tuple.len()].copy_from_slice(&tuple);
        let item = start as u32 | (1 << 15) | ((tuple.len() as u32) << 17); // LP_NORMAL
        page[PAGE_HEADER_BYTES..PAGE_HEADER_BYTES + 4].copy_from_slice(&item.to_le_bytes());
        page[PD_UPPER_AT..PD_UPPER_AT + 2].copy_from_slice(&(start as u16).to_le_bytes());
        page
    }

    #[test]
    fn the_tuple_area_starts_at_pd_upper() {
        let page = page_with(1, None, &[0; 100]);
        assert_eq!(tuples_start(&page), 8192 - 128); // 24 + 100 bytes, MAXALIGNed
        assert_eq!(tuples_start(&page[..100]), 100, "a pd_upper past the end is the end");
        assert_eq!(tuples_start(&page[..10]), 10, "no header: nothing to prefetch");
    }

    #[test]
    fn attalign_characters_are_alignments_in_bytes() {
        let aligns: Vec<usize> = [b'c', b's', b'i', b'd'].map(|c| Attribute::from_catalog(-1, c).align).to_vec();
        assert_eq!(aligns, [1, 2, 4, 8]);
        assert_eq!(Attribute::from_catalog(8, b'd').len, 8);
    }

    const INT4: Attribute = Attribute { len: 4, align: 4 };
    const INT8: Attribute = Attribute { len: 8, align: 8 };
    const VARLENA: Attribute = Attribute { len: -1, align: 4 };
    const ARRAY: Attribute = Attribute { len: -1, align: 8 };
    const CSTRING: Attribute = Attribute { len: -2, align: 1 };

    fn four_byte_varlena(payload: &[u8]) -> Vec<u8> {
        let mut v = (((payload.len() + 4) as u32) << 2).to_le_bytes().to_vec();
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn an_array_after_an_int_is_read_in_place() {
        // int4 id = 7, then (padding to 8) a 4-byte-header array
        let mut data = 7i32.to_le_bytes().to_vec();
        data.extend_from_slice(&[0; 4]);
        data.extend_from_slice(&four_byte_varlena(b"payload!"));
        let page = page_with(2, None, &data);
        let reader = ColumnReader::new(vec![INT4, ARRAY]);
        assert_eq!(reader.read(&page, 1), Value::Inline(b"payload!"));
        assert_eq!(ColumnReader::new(vec![INT4]).read(&page, 1), Value::Inline(&7i32.to_le_bytes()));
    }

    #[test]
    fn short_varlenas_are_unaligned_and_nulls_take_no_space() {
        // id int8 NULL, name text 'ab' (1-byte header, unaligned), c cstring "xy", then a short array
        let mut data = vec![(3 << 1) | 1, b'a', b'b'];
        data.extend_from_slice(b"xy\0");
        data.extend_from_slice(&[(4 << 1) | 1, 1, 2, 3]);
        let page = page_with(4, Some(0b1110), &data);
        assert_eq!(ColumnReader::new(vec![INT8]).read(&page, 1), Value::Null);
        assert_eq!(ColumnReader::new(vec![INT8, VARLENA]).read(&page, 1), Value::Inline(b"ab"));
        assert_eq!(ColumnReader::new(vec![INT8, VARLENA, CSTRING]).read(&page, 1), Value::Inline(b"xy\0"));
        assert_eq!(ColumnReader::new(vec![INT8, VARLENA, CSTRING, ARRAY]).read(&page, 1), Value::Inline(&[1, 2, 3]));
    }

    #[test]
    fn toasted_compressed_and_missing_values_are_unreadable() {
        // an on-disk TOAST pointer (tag 18, 16 bytes) before and as the column
        let mut pointer = vec![0x01, 18];
        pointer.extend_from_slice(&[9; 16]);
        let mut data = pointer.clone();
        data.extend_from_slice(&[(2 << 1) | 1, 42]);
        let page = page_with(2, None, &data);
        assert_eq!(ColumnReader::new(vec![VARLENA]).read(&page, 1), Value::Unreadable);
        assert_eq!(ColumnReader::new(vec![VARLENA, VARLENA]).read(&page, 1), Value::Inline(&[42]));
        // compressed inline: 4-byte header with the low bits 10
        let compressed = [0x02 | (20 << 2), 0, 0, 0, 1, 2, 3, 4];
        let page = page_with(1, None, &compressed);
        assert_eq!(ColumnReader::new(vec![VARLENA]).read(&page, 1), Value::Unreadable);
        // the tuple stores one attribute; the second was added later
        let page = page_with(1, None, &7i32.to_le_bytes());
        assert_eq!(ColumnReader::new(vec![INT4, ARRAY]).read(&page, 1), Value::Unreadable);
        // a line pointer outside the page, or offset 0
        assert_eq!(ColumnReader::new(vec![INT4]).read(&page, 0), Value::Unreadable);
        assert_eq!(ColumnReader::new(vec![INT4]).read(&page[..100], 1), Value::Unreadable);
    }
}
