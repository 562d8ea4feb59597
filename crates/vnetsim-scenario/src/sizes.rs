//! The VM size catalog (vCPUs, maximum NICs and Azure's published expected bandwidth per size)
//! and the virtual network gateway SKU catalog (gateway type and published aggregate throughput).
//!
//! What it is for: checking a VM's `size` and NIC count and a gateway's `sku`, and giving the
//! simulation a VM's egress cap when the file sets none and a gateway's bandwidth. The figures
//! come from `data/vm-sizes.csv` and `data/gateway-skus.csv`, which name the Azure document of
//! every row. What it is not: a complete list of Azure sizes, or a price list.

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
    // Files mostly spell sizes as Azure does: those are found by hash (a scenario of 100,000
    // VMs looks a size up for each), any other case by comparing with every size.
    static EXACT: OnceLock<std::collections::HashMap<&'static str, usize>> = OnceLock::new();
    let exact = EXACT.get_or_init(|| {
        let mut map = std::collections::HashMap::new();
        for (i, s) in all().iter().enumerate() {
            // The first row of a name wins, as in the scan below.
            map.entry(s.name).or_insert(i);
        }
        map
    });
    match exact.get(size) {
        Some(&i) => all().get(i),
        None => all().iter().find(|s| s.name.eq_ignore_ascii_case(size)),
    }
    .cloned()
}

/// The gateway SKU catalog as shipped, CSV with `#` comment lines.
pub const GATEWAY_CATALOG_CSV: &str = include_str!("../data/gateway-skus.csv");

/// The type of a virtual network gateway (Azure's `-GatewayType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GatewayKind {
    /// A VPN gateway (site-to-site, point-to-site, VNet-to-VNet over IPsec).
    Vpn,
    /// An ExpressRoute gateway (private circuits; routes come from BGP only).
    ExpressRoute,
}

impl GatewayKind {
    /// The catalog's spelling: `vpn` or `expressroute`.
    pub fn as_str(self) -> &'static str {
        match self {
            GatewayKind::Vpn => "vpn",
            GatewayKind::ExpressRoute => "expressroute",
        }
    }
}

/// One virtual network gateway SKU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GatewaySku {
    /// Azure's name, e.g. `VpnGw1` or `ErGw1AZ`.
    pub name: &'static str,
    /// VPN or ExpressRoute.
    pub kind: GatewayKind,
    /// Azure's published aggregate throughput in bits per second.
    pub bandwidth_bps: u64,
    /// The Azure document the row comes from.
    pub source: &'static str,
}

/// Parses gateway catalog text: a header line `sku,kind,aggregate_throughput_mbps,source`, then
/// one SKU per line; blank lines and lines starting with `#` are skipped.
pub fn parse_gateway_catalog(text: &'static str) -> Result<Vec<GatewaySku>, String> {
    let mut rows: Vec<GatewaySku> = Vec::new();
    let mut header_seen = false;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if !header_seen {
            if line != "sku,kind,aggregate_throughput_mbps,source" {
                return Err(format!("line {}: unexpected header `{line}`", i + 1));
            }
            header_seen = true;
            continue;
        }
        let cols: Vec<&'static str> = line.split(',').map(str::trim).collect();
        let [name, kind, mbps, source] = cols[..] else {
            return Err(format!("line {}: expected 4 columns", i + 1));
        };
        if name.is_empty() || source.is_empty() {
            return Err(format!("line {}: empty sku or source", i + 1));
        }
        if rows.iter().any(|r| r.name.eq_ignore_ascii_case(name)) {
            return Err(format!("line {}: sku `{name}` listed twice", i + 1));
        }
        let kind = match kind {
            "vpn" => GatewayKind::Vpn,
            "expressroute" => GatewayKind::ExpressRoute,
            other => {
                return Err(format!(
                    "line {}: kind `{other}` is not vpn or expressroute",
                    i + 1
                ));
            }
        };
        let mbps = mbps
            .parse::<u32>()
            .ok()
            .filter(|m| *m > 0)
            .ok_or_else(|| format!("line {}: bad throughput `{mbps}`", i + 1))?;
        rows.push(GatewaySku {
            name,
            kind,
            bandwidth_bps: u64::from(mbps) * 1_000_000,
            source,
        });
    }
    if !header_seen {
        return Err("no header line".into());
    }
    Ok(rows)
}

/// Every SKU of the shipped gateway catalog.
pub fn gateway_skus() -> &'static [GatewaySku] {
    static CATALOG: OnceLock<Vec<GatewaySku>> = OnceLock::new();
    // The shipped file is checked by a unit test; a broken one yields an empty catalog rather
    // than a panic.
    CATALOG.get_or_init(|| parse_gateway_catalog(GATEWAY_CATALOG_CSV).unwrap_or_default())
}

/// The gateway SKU with this name, ignoring ASCII case.
pub fn gateway_sku(name: &str) -> Option<GatewaySku> {
    gateway_skus()
        .iter()
        .find(|s| s.name.eq_ignore_ascii_case(name.trim()))
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_gateway_catalog_parses() {
        let rows = parse_gateway_catalog(GATEWAY_CATALOG_CSV).expect("gateway catalog parses");
        assert_eq!(rows.len(), 17);
        assert_eq!(gateway_skus().len(), rows.len());
        for base in 1..=5 {
            let plain = gateway_sku(&format!("VpnGw{base}")).expect("VpnGw");
            let az = gateway_sku(&format!("VpnGw{base}AZ")).expect("VpnGwAZ");
            assert_eq!(plain.bandwidth_bps, az.bandwidth_bps, "VpnGw{base}");
            assert_eq!((plain.kind, az.kind), (GatewayKind::Vpn, GatewayKind::Vpn));
        }
        assert!(rows.iter().all(|r| match r.kind {
            GatewayKind::Vpn => r.source == "about-gateway-skus.md",
            GatewayKind::ExpressRoute =>
                r.source == "expressroute-about-virtual-network-gateways.md",
        }));
    }

    #[test]
    fn gateway_figures() {
        let mbps = |name: &str| gateway_sku(name).map(|s| s.bandwidth_bps / 1_000_000);
        assert_eq!(mbps("Basic"), Some(100));
        assert_eq!(mbps("VpnGw1"), Some(650));
        assert_eq!(mbps("VpnGw2"), Some(1000));
        assert_eq!(mbps("VpnGw3"), Some(1250));
        assert_eq!(mbps("VpnGw4"), Some(5000));
        assert_eq!(mbps("VpnGw5"), Some(10000));
        assert_eq!(mbps("ErGw1AZ"), Some(1000));
        assert_eq!(mbps("ErGw2AZ"), Some(2000));
        assert_eq!(mbps("ErGw3AZ"), Some(10000));
        assert_eq!(mbps("Standard"), Some(1000));
        assert_eq!(mbps("HighPerformance"), Some(2000));
        assert_eq!(mbps("UltraPerformance"), Some(10000));
        let er = gateway_sku("ergw2az").expect("any case");
        assert_eq!((er.name, er.kind), ("ErGw2AZ", GatewayKind::ExpressRoute));
        assert_eq!(
            gateway_sku("ultraperformance").map(|s| s.kind),
            Some(GatewayKind::ExpressRoute)
        );
        assert_eq!(gateway_sku("basic").map(|s| s.kind), Some(GatewayKind::Vpn));
        assert!(gateway_sku("VpnGw6").is_none());
        assert!(gateway_sku("").is_none());
        assert_eq!(GatewayKind::ExpressRoute.as_str(), "expressroute");
    }

    #[test]
    fn bad_gateway_catalogs() {
        assert!(parse_gateway_catalog("").is_err());
        assert!(parse_gateway_catalog("sku,kind\n").is_err());
        let h = "sku,kind,aggregate_throughput_mbps,source\n";
        let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
        assert!(parse_gateway_catalog(leak(format!("{h}A,vpn,10\n"))).is_err());
        assert!(parse_gateway_catalog(leak(format!("{h}A,wan,10,doc\n"))).is_err());
        assert!(parse_gateway_catalog(leak(format!("{h}A,vpn,0,doc\n"))).is_err());
        assert!(parse_gateway_catalog(leak(format!("{h}A,vpn,x,doc\n"))).is_err());
        assert!(parse_gateway_catalog(leak(format!("{h}A,vpn,1,doc\na,vpn,2,doc\n"))).is_err());
        let ok = parse_gateway_catalog(leak(format!("# c\n{h}A,expressroute,2,doc\n")));
        assert_eq!(
            ok.map(|r| (r[0].kind, r[0].bandwidth_bps)),
            Ok((GatewayKind::ExpressRoute, 2_000_000))
        );
    }

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
    fn lookup_by_hash_is_the_scan_of_the_catalog_in_any_case() {
        let scan = |name: &str| {
            all()
                .iter()
                .find(|s| s.name.eq_ignore_ascii_case(name))
                .cloned()
        };
        for s in all() {
            for name in [
                s.name.to_owned(),
                s.name.to_ascii_lowercase(),
                s.name.to_ascii_uppercase(),
            ] {
                assert_eq!(lookup(&name), scan(&name), "{name}");
                assert!(lookup(&name).is_some(), "{name}");
            }
        }
        assert_eq!(lookup("Standard_Nope_v9"), None);
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
