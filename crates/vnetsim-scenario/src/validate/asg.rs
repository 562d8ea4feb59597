//! The ASG room: application security groups, the NICs that join them and the NSG rules that
//! name them.
//!
//! What it is for: indexing the `application_security_groups` (before the NSGs, whose rules
//! name them), reading one side of a rule that names an ASG instead of addresses
//! ([`Resolver::rule_asgs`], called by the security room for file rules and `add_nsg_rule`
//! events alike), collecting each ASG's member NICs once the VMs are built, and the rules of
//! the "Application security groups" page [ASG20] and the limits [LIM]:
//! - "All network interfaces assigned to an application security group have to exist in the
//!   same virtual network that the first network interface assigned to the application security
//!   group is in" (`asg-vnet`);
//! - "If you specify an application security group as the source and destination in a security
//!   rule, the network interfaces in both application security groups must exist in the same
//!   virtual network" (`asg-rule-vnets`);
//! - "You cannot specify multiple application security groups in the source or destination"
//!   (`asg-several`); a side names a group never together with addresses or tags
//!   on the same side (`asg-with-addresses`, ARM's `sourceAddressPrefix(es)` and
//!   `sourceApplicationSecurityGroups` exclude each other);
//! - 3,000 ASGs, 20 per NIC IP configuration, 4,000 IP configurations per ASG, 100 ASGs named
//!   by one NSG (`asg-limit`).
//!
//! What it is not: the addresses an ASG matches (the data plane compiles each ASG to the IPs of
//! its members) or where NSGs are attached (the network room).

use std::collections::BTreeSet;

use serde_saphyr::Spanned;

use super::resolver::{Kind, Resolver, loc};
use crate::model::*;
use crate::raw::*;
use crate::rules::Rule;

/// An ASG list field as the file writes it.
type AsgField = Spanned<Vec<Spanned<String>>>;

impl Resolver<'_> {
    /// Indexes the application security groups (asg-limit on their number); their members
    /// come with [`Resolver::asg_members`].
    pub(super) fn asgs(&mut self) {
        let raw = self.raw;
        self.names.asgs = self.index(
            "application security group",
            raw.application_security_groups
                .iter()
                .enumerate()
                .map(|(i, a)| (&a.name, format!("application_security_groups[{i}].name"))),
        );
        if let Some(over) = raw.application_security_groups.get(MAX_ASGS) {
            self.err(
                loc(&over.name),
                format!("application_security_groups[{MAX_ASGS}].name"),
                Rule::AsgLimit,
                format!(
                    "the scenario declares {} application security groups; Azure allows {MAX_ASGS} per subscription and region",
                    raw.application_security_groups.len()
                ),
            );
        }
        self.sc.application_security_groups = raw
            .application_security_groups
            .iter()
            .map(|a| ApplicationSecurityGroup {
                name: a.name.value.clone(),
                members: Vec::new(),
            })
            .collect();
    }

    /// One side of an NSG rule written with an application security group (`asgs`, at
    /// `path`): `None` when the rule names none there (its addresses decide), else the side's
    /// one entry, or `Some(None)` after reporting asg-with-addresses, asg-several or
    /// unknown-asg.
    pub(super) fn rule_asgs(
        &mut self,
        addresses: Option<&Spanned<OneOrMany<String>>>,
        asgs: Option<&AsgField>,
        path: &str,
    ) -> Option<Option<Vec<AddressMatch>>> {
        let asgs = asgs?;
        let side = if path.ends_with("destination_application_security_groups") {
            "destination"
        } else {
            "source"
        };
        if addresses.is_some() {
            self.err_help(
                loc(asgs),
                path,
                Rule::AsgWithAddresses,
                format!(
                    "the rule's {side} names an application security group and also `{side}` addresses; Azure takes one or the other on each side"
                ),
                format!(
                    "remove `{side}`: the group's member NICs are the {side} addresses"
                ),
            );
            return Some(None);
        }
        match asgs.value.as_slice() {
            [one] => Some(
                self.find(Kind::Asg, one, path)
                    .map(|id| vec![AddressMatch::Asg(AsgId(id))]),
            ),
            list => {
                let names: Vec<&str> = list.iter().map(|a| a.value.as_str()).collect();
                self.err_help(
                    loc(asgs),
                    path,
                    Rule::AsgSeveral,
                    format!(
                        "the rule's {side} names {} application security groups ({}); Azure takes exactly one per source or destination",
                        list.len(),
                        names.join(", ")
                    ),
                    "split the rule into one rule per application security group, or leave the field out",
                );
                Some(None)
            }
        }
    }

    /// Collects each ASG's member NICs from `nics[].application_security_groups` (unknown-asg,
    /// asg-vnet, asg-limit), then checks the rules of the file's NSGs that name ASGs
    /// (asg-rule-vnets, asg-limit per NSG). Runs after the VMs are built.
    pub(super) fn asg_members(&mut self) {
        let raw = self.raw;
        // The first member of each ASG: its VNet, name and line.
        let mut first: Vec<Option<(VnetId, String, u64)>> =
            vec![None; self.sc.application_security_groups.len()];
        let mut nic_index = 0usize;
        for (i, v) in raw.vms.iter().enumerate() {
            for (k, n) in v.nics.value.iter().enumerate() {
                let nic = NicId(nic_index as u32);
                nic_index += 1;
                let Some(list) = &n.application_security_groups else {
                    continue;
                };
                let path = format!("vms[{i}].nics[{k}].application_security_groups");
                if list.value.len() > MAX_ASGS_PER_NIC {
                    self.err(
                        loc(list),
                        path.clone(),
                        Rule::AsgLimit,
                        format!(
                            "NIC `{}` joins {} application security groups; an IP configuration joins at most {MAX_ASGS_PER_NIC}",
                            n.name.value,
                            list.value.len()
                        ),
                    );
                }
                let Some(vnet) = self.sc.nics.get(nic.index()).map(|x| x.vnet) else {
                    continue;
                };
                for (j, a) in list.value.iter().enumerate() {
                    let Some(asg) = self.find(Kind::Asg, a, format!("{path}[{j}]")) else {
                        continue;
                    };
                    let asg = asg as usize;
                    if self.sc.application_security_groups[asg]
                        .members
                        .contains(&nic)
                    {
                        continue;
                    }
                    match &first[asg] {
                        None => first[asg] = Some((vnet, n.name.value.clone(), loc(a).line())),
                        Some((first_vnet, first_nic, line)) if *first_vnet != vnet => {
                            let msg = format!(
                                "NIC `{}` is in VNet `{}`, but application security group `{}` already holds NIC `{first_nic}` (line {line}) of VNet `{}`; all NICs of a group are in its first NIC's VNet",
                                n.name.value,
                                self.sc.vnets[vnet.index()].name,
                                a.value,
                                self.sc.vnets[first_vnet.index()].name,
                            );
                            self.err_help(
                                loc(a),
                                format!("{path}[{j}]"),
                                Rule::AsgVnet,
                                msg,
                                "use one application security group per VNet",
                            );
                            continue;
                        }
                        Some(_) => {}
                    }
                    let group = &mut self.sc.application_security_groups[asg];
                    group.members.push(nic);
                    if group.members.len() == MAX_NICS_PER_ASG + 1 {
                        let msg = format!(
                            "application security group `{}` has more than {MAX_NICS_PER_ASG} member NICs, Azure's limit of IP configurations per group",
                            a.value
                        );
                        self.err(loc(a), format!("{path}[{j}]"), Rule::AsgLimit, msg);
                    }
                }
            }
        }
        for (i, nsg) in raw.nsgs.iter().enumerate() {
            let mut named = BTreeSet::new();
            for (j, r) in nsg.rules.iter().enumerate() {
                let path = format!("nsgs[{i}].rules[{j}]");
                self.asg_rule_vnets(r, &path);
                named.extend(self.asg_of(r.source_application_security_groups.as_ref()));
                named.extend(self.asg_of(r.destination_application_security_groups.as_ref()));
            }
            if named.len() > MAX_ASGS_PER_NSG {
                self.err(
                    loc(&nsg.name),
                    format!("nsgs[{i}].name"),
                    Rule::AsgLimit,
                    format!(
                        "the rules of NSG `{}` name {} application security groups; Azure allows {MAX_ASGS_PER_NSG} per NSG",
                        nsg.name.value,
                        named.len()
                    ),
                );
            }
        }
    }

    /// asg-rule-vnets: a rule (at `path`) with ASGs as source and destination needs both
    /// groups' NICs in one VNet [ASG20]. A group without members has no VNet yet and passes.
    pub(super) fn asg_rule_vnets(&mut self, r: &RawNsgRule, path: &str) {
        let (Some(src), Some(dst)) = (
            self.asg_of(r.source_application_security_groups.as_ref()),
            self.asg_of(r.destination_application_security_groups.as_ref()),
        ) else {
            return;
        };
        let (Some(src_vnet), Some(dst_vnet)) = (self.asg_vnet(src), self.asg_vnet(dst)) else {
            return;
        };
        if src_vnet == dst_vnet {
            return;
        }
        let Some(field) = &r.destination_application_security_groups else {
            return;
        };
        let groups = &self.sc.application_security_groups;
        let vnets = &self.sc.vnets;
        let msg = format!(
            "rule `{}` names application security group `{}` (NICs in VNet `{}`) as source and `{}` (NICs in VNet `{}`) as destination; with groups on both sides, their NICs must be in one VNet",
            r.name.value,
            groups[src.index()].name,
            vnets[src_vnet.index()].name,
            groups[dst.index()].name,
            vnets[dst_vnet.index()].name,
        );
        self.err_help(
            loc(field),
            format!("{path}.destination_application_security_groups"),
            Rule::AsgRuleVnets,
            msg,
            "name the other VNet's NICs by their addresses instead",
        );
    }

    /// The one ASG a rule side names, when it resolves.
    fn asg_of(&self, field: Option<&AsgField>) -> Option<AsgId> {
        let [one] = field?.value.as_slice() else {
            return None;
        };
        self.names
            .asgs
            .get(one.value.as_str())
            .map(|(id, _)| AsgId(*id))
    }

    /// The VNet of an ASG's first member NIC.
    fn asg_vnet(&self, asg: AsgId) -> Option<VnetId> {
        let first = *self.sc.application_security_groups[asg.index()]
            .members
            .first()?;
        Some(self.sc.nics[first.index()].vnet)
    }
}

#[cfg(test)]
mod tests {
    use crate::model::*;

    const FILE: &str = r#"
name: t
application_security_groups: [ { name: web }, { name: db } ]
vnets:
  - name: a
    address_space: [10.0.0.0/16]
    subnets: [ { name: s, prefix: 10.0.1.0/24 }, { name: m, prefix: 10.0.2.0/24 } ]
vms:
  - name: w
    size: Standard_D4s_v3
    nics:
      - { name: w1, subnet: a/s, ip: 10.0.1.4, application_security_groups: [web, web] }
      - { name: w2, subnet: a/m, ip: 10.0.2.4, application_security_groups: [web, db] }
nsgs:
  - name: n
    rules:
      - { name: r, priority: 100, direction: inbound, access: allow, protocol: tcp,
          source_application_security_groups: [web], destination: 10.0.1.0/24 }
"#;

    #[test]
    fn asg20_members_are_nics_in_file_order_once_each() {
        let sc = crate::load_str(FILE, "t.yaml").expect("loads");
        let web = sc.asg_by_name("web").unwrap();
        let db = sc.asg_by_name("db").unwrap();
        let nic = |n: &str| sc.nic_by_name(n).unwrap();
        assert_eq!(
            sc.application_security_groups[web.index()].members,
            vec![nic("w1"), nic("w2")]
        );
        assert_eq!(
            sc.application_security_groups[db.index()].members,
            vec![nic("w2")]
        );
        let rule = &sc.nsgs[0].rules[0];
        assert_eq!(rule.source, vec![AddressMatch::Asg(web)]);
        assert_eq!(
            rule.destination,
            vec![AddressMatch::Prefix("10.0.1.0/24".parse().unwrap())]
        );
    }

    /// A second VNet `b` with NIC `x1` in group `db`, so that `db` lives in VNet b.
    fn two_vnets(rule: &str) -> String {
        FILE.replace(
            "application_security_groups: [web, db] }",
            "application_security_groups: [web] }",
        )
        .replace(
            "vms:\n",
            "  - name: b\n    address_space: [10.1.0.0/16]\n    subnets: [ { name: s, prefix: 10.1.1.0/24 } ]\nvms:\n  - name: x\n    size: Standard_D2s_v3\n    nics: [ { name: x1, subnet: b/s, ip: 10.1.1.4, application_security_groups: [db] } ]\n",
        )
        .replace(
            "source_application_security_groups: [web], destination: 10.0.1.0/24 }",
            rule,
        )
    }

    #[test]
    fn asg20_groups_on_both_sides_of_a_rule_need_their_nics_in_one_vnet() {
        // "If you specify an application security group as the source and destination in a
        // security rule, the network interfaces in both application security groups must exist
        // in the same virtual network."
        let both = two_vnets(
            "source_application_security_groups: [web], destination_application_security_groups: [db] }",
        );
        let err = crate::load_str(&both, "t.yaml").unwrap_err();
        assert_eq!(err.rules(), vec!["asg-rule-vnets"]);
        // One side by group, the other by address: no such rule.
        let one = two_vnets("source_application_security_groups: [db], destination: 10.0.1.0/24 }");
        assert!(crate::load_str(&one, "t.yaml").is_ok());
    }

    #[test]
    fn asg20_one_group_per_side_and_not_with_addresses() {
        // "You cannot specify multiple application security groups in the source or
        // destination."
        let several = FILE.replace(
            "source_application_security_groups: [web]",
            "source_application_security_groups: [web, db]",
        );
        let err = crate::load_str(&several, "t.yaml").unwrap_err();
        assert_eq!(err.rules(), vec!["asg-several"]);
        let mixed = FILE.replace(
            "source_application_security_groups: [web]",
            "source: 10.0.0.0/8, source_application_security_groups: [web]",
        );
        let err = crate::load_str(&mixed, "t.yaml").unwrap_err();
        assert_eq!(err.rules(), vec!["asg-with-addresses"]);
    }

    #[test]
    fn asg20_a_nic_joins_at_most_twenty_groups() {
        let names: Vec<String> = (0..21).map(|i| format!("g{i}")).collect();
        let decl: String = names.iter().map(|n| format!("{{ name: {n} }}, ")).collect();
        let at = |n: usize| {
            FILE.replace(
                "[ { name: web }, { name: db } ]",
                &format!("[ {decl}{{ name: web }}, {{ name: db }} ]"),
            )
            .replace(
                "application_security_groups: [web, db] }",
                &format!(
                    "application_security_groups: [{}] }}",
                    names[..n].join(", ")
                ),
            )
        };
        assert!(crate::load_str(&at(20), "t.yaml").is_ok());
        let err = crate::load_str(&at(21), "t.yaml").unwrap_err();
        assert_eq!(err.rules(), vec!["asg-limit"]);
    }

    #[test]
    fn asg20_an_empty_group_list_on_a_rule_side_is_refused() {
        let file = FILE.replace(
            "source_application_security_groups: [web]",
            "source_application_security_groups: []",
        );
        let err = crate::load_str(&file, "t.yaml").unwrap_err();
        assert_eq!(err.rules(), vec!["asg-several"]);
    }
}
