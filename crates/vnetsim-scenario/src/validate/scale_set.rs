//! Virtual machine scale sets: each `scale_sets[]` entry turned into its instances, ordinary
//! VMs, before the rooms read the file.
//!
//! What it is for: the few rules of a scale set itself (its capacity [VMSSPG], a subnet to place
//! it in, a free address for every instance) and its expansion: instance `i` is the VM
//! `<name>_i` with one NIC `<name>_i-nic` at the subnet's next free address, from network + 4
//! up, after every address a written-out NIC holds (scale sets in file order), as Azure gives
//! instances dynamic private IPs. The instances then meet every VM and NIC rule like written-out
//! VMs, with diagnostics pointing at the scale set (and reported once per scale set, not once
//! per instance). What it is not: the VM rules (the `network` room) or a model of scaling:
//! the capacity is fixed for the run.

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde_saphyr::Spanned;

use crate::append::{push_ipv4, push_u64};
use crate::diag::{Sink, nearest};
use crate::raw::{RawNic, RawScaleSet, RawScenario, RawVm};
use crate::rules::Rule;

/// The most instances of a scale set in a single placement group [VMSSPG].
pub const SINGLE_PLACEMENT_GROUP_CAPACITY: u64 = 100;
/// The most instances of a scale set [VMSSPG].
pub const SCALE_SET_CAPACITY: u64 = 1_000;

/// Appends every scale set's instances to `raw.vms`; problems of a scale set itself go to
/// `sink`, and a scale set with one is not expanded.
pub(crate) fn expand(raw: &mut RawScenario, sink: &mut Sink<'_>) {
    if raw.scale_sets.is_empty() {
        return;
    }
    let vnets: HashMap<&str, usize> = raw
        .vnets
        .iter()
        .enumerate()
        .rev()
        .map(|(i, v)| (v.name.value.as_str(), i))
        .collect();
    // Addresses written-out NICs hold, per VNet (their own rules are checked later).
    let mut held: HashSet<(usize, Ipv4Addr)> = HashSet::new();
    for n in raw.vms.iter().flat_map(|v| v.nics.value.iter()) {
        let vnet = match n.subnet.value.split_once('/') {
            Some((vn, _)) => Some(vn),
            None => n.vnet.as_ref().map(|v| v.value.as_str()),
        };
        if let (Some(&vi), Ok(ip)) = (
            vnet.and_then(|vn| vnets.get(vn)),
            n.ip.value.trim().parse::<Ipv4Addr>(),
        ) {
            held.insert((vi, ip));
        }
    }
    let mut instances = Vec::new();
    for (k, s) in raw.scale_sets.iter().enumerate() {
        let path = format!("scale_sets[{k}]");
        if !capacity_ok(s, &path, sink) {
            continue;
        }
        let Some((vi, prefix)) = placement(raw, &vnets, s, &path, sink) else {
            continue;
        };
        let count = s.instances.value as usize;
        let first = u32::from(prefix.network()).saturating_add(4);
        let last = u32::from(prefix.broadcast()).saturating_sub(1);
        let free: Vec<Ipv4Addr> = (first..=last)
            .map(Ipv4Addr::from)
            .filter(|ip| !held.contains(&(vi, *ip)))
            .take(count)
            .collect();
        if free.len() < count {
            sink.at(
                s.subnet.referenced,
                format!("{path}.instances"),
                Rule::ScaleSetSubnetFull,
                format!(
                    "scale set `{}` needs {count} addresses in subnet `{}` ({prefix}), which has \
                     {} free",
                    s.name.value,
                    s.subnet.value,
                    free.len()
                ),
                Some("use a larger subnet or fewer instances".into()),
            );
            continue;
        }
        for (i, ip) in free.into_iter().enumerate() {
            held.insert((vi, ip));
            instances.push(instance(s, k, i, ip));
        }
    }
    raw.vms.extend(instances);
}

/// The capacity rule [VMSSPG]: at most 100 instances in a single placement group, 1,000 in all.
fn capacity_ok(s: &RawScaleSet, path: &str, sink: &mut Sink<'_>) -> bool {
    let n = s.instances.value;
    let (limit, help) = if s.single_placement_group {
        (
            SINGLE_PLACEMENT_GROUP_CAPACITY,
            "set `single_placement_group: false` for up to 1,000 instances",
        )
    } else {
        (SCALE_SET_CAPACITY, "split the VMs into several scale sets")
    };
    if n <= limit {
        return true;
    }
    let group = if s.single_placement_group {
        " in a single placement group (Azure's default)"
    } else {
        ""
    };
    sink.at(
        s.instances.referenced,
        format!("{path}.instances"),
        Rule::ScaleSetCapacity,
        format!(
            "scale set `{}` has {n} instances; a scale set holds at most {limit}{group}",
            s.name.value
        ),
        Some(help.into()),
    );
    false
}

/// The scale set's VNet (its index in the file) and subnet prefix; `None` after reporting an
/// unknown VNet or subnet, or when the subnet's prefix does not parse (reported by the VNet's
/// own rules).
fn placement(
    raw: &RawScenario,
    vnets: &HashMap<&str, usize>,
    s: &RawScaleSet,
    path: &str,
    sink: &mut Sink<'_>,
) -> Option<(usize, Ipv4Net)> {
    let (vnet, subnet) = match s.subnet.value.split_once('/') {
        Some((vn, sn)) => (Some(vn), sn),
        None => (
            s.vnet.as_ref().map(|v| v.value.as_str()),
            s.subnet.value.as_str(),
        ),
    };
    let Some(vnet) = vnet else {
        sink.at(
            s.subnet.referenced,
            format!("{path}.subnet"),
            Rule::UnknownSubnet,
            format!(
                "subnet `{subnet}` of scale set `{}` has no VNet",
                s.name.value
            ),
            Some("set `vnet` on the scale set or write the subnet as `vnet/subnet`".into()),
        );
        return None;
    };
    let Some(&vi) = vnets.get(vnet) else {
        let best = nearest(vnet, raw.vnets.iter().map(|v| v.name.value.as_str()));
        let at = s
            .vnet
            .as_ref()
            .map_or(s.subnet.referenced, |v| v.referenced);
        sink.at(
            at,
            format!("{path}.vnet"),
            Rule::UnknownVnet,
            format!("no VNet named `{vnet}`"),
            best.map(|b| format!("did you mean `{b}`?")),
        );
        return None;
    };
    let v = &raw.vnets[vi];
    let Some(found) = v.subnets.iter().find(|x| x.name.value == subnet) else {
        let best = nearest(subnet, v.subnets.iter().map(|x| x.name.value.as_str()));
        sink.at(
            s.subnet.referenced,
            format!("{path}.subnet"),
            Rule::UnknownSubnet,
            format!("VNet `{vnet}` has no subnet named `{subnet}`"),
            best.map(|b| format!("did you mean `{b}`?")),
        );
        return None;
    };
    let prefix = found.prefix.value.trim().parse::<Ipv4Net>().ok()?;
    Some((vi, prefix.trunc()))
}

/// Instance `i` of scale set `k`: a VM whose fields point at the scale set's.
fn instance(s: &RawScaleSet, k: usize, i: usize, ip: Ipv4Addr) -> RawVm {
    let at = |text: String, of: &Spanned<String>| Spanned::new(text, of.referenced, of.defined);
    // `<name>_<i>` and `<name>_<i>-nic`, each allocated once at its final length.
    let mut name = String::with_capacity(s.name.value.len() + 12);
    name.push_str(&s.name.value);
    name.push('_');
    push_u64(&mut name, i as u64);
    let mut nic = String::with_capacity(name.len() + 4);
    nic.push_str(&name);
    nic.push_str("-nic");
    let mut address = String::with_capacity(15);
    push_ipv4(&mut address, ip);
    RawVm {
        nics: Spanned::new(
            vec![RawNic {
                name: at(nic, &s.name),
                vnet: s.vnet.clone(),
                subnet: s.subnet.clone(),
                ip: at(address, &s.subnet),
                ip_forwarding: s.ip_forwarding,
                nsg: s.nsg.clone(),
                public_ip: None,
                public_ip_sku: None,
                application_security_groups: s.application_security_groups.clone(),
                address: Some(ip),
            }],
            s.name.referenced,
            s.name.defined,
        ),
        name: at(name, &s.name),
        size: s.size.clone(),
        bandwidth: None,
        forwarding: s.forwarding,
        flow_limit: None,
        scale_set: Some(k as u32),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An instance's VM name, NIC name and address are the text `format!` and `to_string()`
    /// give, at the scale set's positions.
    #[test]
    fn an_instance_is_named_and_addressed_as_written_out() {
        let s: RawScaleSet = serde_saphyr::from_str(
            "{ name: web, size: Standard_D2s_v3, instances: 1000, subnet: v/app, \
             single_placement_group: false }",
        )
        .expect("scale set");
        for (i, ip) in [
            (0, Ipv4Addr::new(10, 0, 1, 4)),
            (9, Ipv4Addr::new(10, 0, 1, 13)),
            (10, Ipv4Addr::new(172, 16, 0, 99)),
            (999, Ipv4Addr::new(192, 168, 255, 254)),
        ] {
            let vm = instance(&s, 2, i, ip);
            assert_eq!(vm.name.value, format!("web_{i}"));
            assert_eq!(vm.nics.value[0].name.value, format!("web_{i}-nic"));
            assert_eq!(vm.nics.value[0].ip.value, ip.to_string());
            // The address kept beside the text is the one the text reads as.
            assert_eq!(vm.nics.value[0].ip.value.parse(), Ok(ip));
            assert_eq!(vm.nics.value[0].address, Some(ip));
            assert_eq!(vm.scale_set, Some(2));
            assert_eq!(vm.name.referenced, s.name.referenced);
            assert_eq!(vm.nics.value[0].ip.referenced, s.subnet.referenced);
        }
    }
}
