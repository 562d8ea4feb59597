//! The VM size catalog: vCPUs, maximum NICs and Azure's published expected bandwidth per size.
//!
//! What it is for: checking a VM's `size` and NIC count, and giving the data plane a VM's egress
//! cap when the file sets none. The figures come from `data/vm-sizes.csv`, which names the Azure
//! document of every row. What it is not: a complete list of Azure sizes, or a price list.

use std::sync::OnceLock;

/// The catalog as shipped, CSV with `#` comment lines.
pub const CATALOG_CSV: &str = include_str!("../data/vm-sizes.csv");

/// One VM size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmSize {
    /// Azure's name, e.g. `Standard_D2s_v3`.
    pub name: &'static str,
    /// Virtual CPUs.
    pub vcpus: u32,
    /// Maximum NICs.
    pub max_nics: u32,
    /// Expected egress bandwidth in bits per second; `None` where Azure publishes none
    /// (the B-series).
    pub bandwidth_bps: Option<u64>,
    /// The Azure document the row comes from.
    pub source: &'static str,
}

/// Parses catalog text: a header line `size,vcpus,max_nics,expected_bandwidth_mbps,source`,
/// then one size per line; blank lines and lines starting with `#` are skipped.
pub fn parse_catalog(text: &'static str) -> Result<Vec<VmSize>, String> {
    let mut rows = Vec::new();
    let mut header_seen = false;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if !header_seen {
            if line != "size,vcpus,max_nics,expected_bandwidth_mbps,source" {
                return Err(format!("line {}: unexpected header `{line}`", i + 1));
            }
            header_seen = true;
            continue;
        }
        let cols: Vec<&'static str> = line.split(',').map(str::trim).collect();
        let [name, vcpus, max_nics, mbps, source] = cols[..] else {
            return Err(format!("line {}: expected 5 columns", i + 1));
        };
        let num = |s: &str, what: &str| {
            s.parse::<u32>()
                .map_err(|_| format!("line {}: bad {what} `{s}`", i + 1))
        };
        let bandwidth_bps = if mbps.is_empty() {
            None
        } else {
            Some(u64::from(num(mbps, "bandwidth")?) * 1_000_000)
        };
        if name.is_empty() || source.is_empty() {
            return Err(format!("line {}: empty size or source", i + 1));
        }
        rows.push(VmSize {
            name,
            vcpus: num(vcpus, "vcpus")?,
            max_nics: num(max_nics, "max_nics")?,
            bandwidth_bps,
            source,
        });
    }
    if !header_seen {
        return Err("no header line".into());
    }
    Ok(rows)
}

/// Every size of the shipped catalog.
pub fn all() -> &'static [VmSize] {
    static CATALOG: OnceLock<Vec<VmSize>> = OnceLock::new();
    // The shipped file is checked by a unit test; a broken one yields an empty catalog rather
    // than a panic.
    CATALOG.get_or_init(|| parse_catalog(CATALOG_CSV).unwrap_or_default())
}

/// The size with this name, ignoring ASCII case.
pub fn lookup(size: &str) -> Option<VmSize> {
    all()
        .iter()
        .find(|s| s.name.eq_ignore_ascii_case(size))
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_catalog_parses() {
        let rows = parse_catalog(CATALOG_CSV).expect("catalog parses");
        assert!(rows.len() >= 40, "{} sizes", rows.len());
        assert_eq!(all().len(), rows.len());
        let mut names: Vec<_> = rows.iter().map(|r| r.name.to_ascii_lowercase()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), rows.len(), "duplicate size names");
        for prefix in [
            "Standard_A",
            "Standard_B",
            "Standard_D",
            "Standard_E",
            "Standard_F",
        ] {
            assert!(rows.iter().any(|r| r.name.starts_with(prefix)), "{prefix}");
        }
        assert!(rows.iter().all(|r| r.max_nics >= 1 && r.vcpus >= 1));
    }

    #[test]
    fn lookup_figures() {
        let d2s = lookup("standard_d2s_v3").expect("known size");
        assert_eq!(d2s.name, "Standard_D2s_v3");
        assert_eq!(d2s.vcpus, 2);
        assert_eq!(d2s.max_nics, 2);
        assert_eq!(d2s.bandwidth_bps, Some(1_000_000_000));
        assert_eq!(d2s.source, "dv3-dsv3-series.md");
        let b2s = lookup("Standard_B2s").expect("known size");
        assert_eq!(b2s.bandwidth_bps, None);
        assert_eq!(b2s.max_nics, 3);
        assert_eq!(
            lookup("Standard_F72s_v2").and_then(|s| s.bandwidth_bps),
            Some(30_000_000_000)
        );
        let d2s_v5 = lookup("Standard_D2s_v5").expect("known size");
        assert_eq!(
            (d2s_v5.max_nics, d2s_v5.bandwidth_bps),
            (2, Some(12_500_000_000))
        );
        assert!(lookup("Standard_Z9").is_none());
    }

    #[test]
    fn bad_catalogs() {
        assert!(parse_catalog("").is_err());
        assert!(parse_catalog("size,vcpus\n").is_err());
        let h = "size,vcpus,max_nics,expected_bandwidth_mbps,source\n";
        let bad_cols: &'static str = Box::leak(format!("{h}A,1,2\n").into_boxed_str());
        assert!(parse_catalog(bad_cols).is_err());
        let bad_num: &'static str = Box::leak(format!("{h}A,x,2,10,doc\n").into_boxed_str());
        assert!(parse_catalog(bad_num).is_err());
        let ok: &'static str = Box::leak(format!("# c\n{h}A,1,2,,doc\n").into_boxed_str());
        assert_eq!(parse_catalog(ok).map(|r| r[0].bandwidth_bps), Ok(None));
    }
}
