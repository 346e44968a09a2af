//! Reconciliation: per unit, the serials issued against those that came back (missing, never
//! issued, duplicates, voided), and `reconciliation.csv`; [`ranges`] writes serials compactly.

use std::collections::{BTreeMap, BTreeSet};

use crate::ballot::Status;
use crate::output::CsvTable;
use crate::reason::Reason;
use crate::registry::Registry;
use crate::scan::PageRecord;

/// `1-5,8,10-12`: serials as compact ranges.
pub fn ranges(serials: &BTreeSet<u32>) -> String {
    let mut parts = Vec::new();
    let mut iter = serials.iter().copied().peekable();
    while let Some(start) = iter.next() {
        let mut end = start;
        while iter.peek() == Some(&(end + 1)) {
            end += 1;
            iter.next();
        }
        parts.push(if start == end {
            format!("{start}")
        } else {
            format!("{start}-{end}")
        });
    }
    parts.join(",")
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reconciliation {
    pub issued: usize,
    pub returned: usize,
    pub missing: BTreeSet<u32>,
    pub not_issued: BTreeSet<u32>,
    pub duplicates: usize,
    /// Issued serials voided with `ballotscan void`: never counted, not expected back.
    pub voided: BTreeSet<u32>,
    /// Voided serials whose ballot came back anyway (rejected as `voided_serial`).
    pub voided_returned: BTreeSet<u32>,
}

impl Reconciliation {
    /// Issued serials that may come back and count: issued less voided.
    pub fn expected(&self) -> usize {
        self.issued - self.voided.len()
    }
}

/// Per unit: what was issued, what came back, what is missing, what was never issued.
pub fn reconcile(
    records: &[PageRecord],
    issued: &BTreeMap<String, BTreeSet<u32>>,
    voided: &BTreeMap<String, BTreeSet<u32>>,
) -> BTreeMap<String, Reconciliation> {
    let mut seen: BTreeMap<String, BTreeSet<u32>> = BTreeMap::new();
    let mut dups: BTreeMap<String, usize> = BTreeMap::new();
    for r in records {
        let Some(p) = &r.payload else { continue };
        if r.status == Status::Duplicate {
            *dups.entry(p.unit.clone()).or_default() += 1;
        }
        // A forged serial is not a returned ballot.
        if r.reasons.contains(&Reason::BadSignature) {
            continue;
        }
        seen.entry(p.unit.clone()).or_default().insert(p.serial);
    }
    let units: BTreeSet<String> = issued.keys().chain(seen.keys()).cloned().collect();
    units
        .into_iter()
        .map(|u| {
            let empty = BTreeSet::new();
            let iss = issued.get(&u).unwrap_or(&empty);
            let got = seen.get(&u).unwrap_or(&empty);
            // Only issued serials can be voided (`void` checks), so this is a subset of `iss`.
            let void: BTreeSet<u32> = voided
                .get(&u)
                .unwrap_or(&empty)
                .intersection(iss)
                .copied()
                .collect();
            let live: BTreeSet<u32> = iss.difference(&void).copied().collect();
            let rec = Reconciliation {
                issued: iss.len(),
                returned: got.intersection(&live).count(),
                missing: live.difference(got).copied().collect(),
                not_issued: got.difference(iss).copied().collect(),
                duplicates: dups.get(&u).copied().unwrap_or(0),
                voided_returned: void.intersection(got).copied().collect(),
                voided: void,
            };
            (u, rec)
        })
        .collect()
}

/// `return_rate` is returned over issued less voided; the voided columns come last so that
/// files read by position before they existed still read.
pub const RECONCILIATION_HEADER: [&str; 13] = [
    "unit",
    "name",
    "issued",
    "returned",
    "return_rate",
    "missing",
    "missing_serials",
    "not_issued",
    "not_issued_serials",
    "duplicates",
    "voided",
    "voided_serials",
    "voided_returned_serials",
];

pub fn reconciliation_csv(rec: &BTreeMap<String, Reconciliation>, registry: &Registry) -> CsvTable {
    let mut t = CsvTable::new(&RECONCILIATION_HEADER);
    for u in registry.in_order(rec.keys().map(String::as_str)) {
        let r = &rec[u];
        t.row([
            u.to_string(),
            registry
                .get(u)
                .map_or("(not in the units registry)".into(), |x| x.name.clone()),
            r.issued.to_string(),
            r.returned.to_string(),
            crate::tally::percent(r.returned as u64, r.expected() as u64),
            r.missing.len().to_string(),
            ranges(&r.missing),
            r.not_issued.len().to_string(),
            ranges(&r.not_issued),
            r.duplicates.to_string(),
            r.voided.len().to_string(),
            ranges(&r.voided),
            ranges(&r.voided_returned),
        ]);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_compact() {
        let s: BTreeSet<u32> = [1, 2, 3, 5, 7, 8, 9, 12].into_iter().collect();
        assert_eq!(ranges(&s), "1-3,5,7-9,12");
        assert_eq!(ranges(&BTreeSet::new()), "");
    }
}
