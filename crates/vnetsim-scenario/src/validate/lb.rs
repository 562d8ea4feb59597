//! The load balancer room: Azure Load Balancers with their frontends, backend pools, health
//! probes and load-balancing rules.
//!
//! What it is for: each frontend internal (a usable address of its subnet that no NIC, firewall
//! or other frontend holds, allocated when left out) or public (a public address no other
//! resource holds); backends in one VNet, each NIC in one pool of its load balancer; probes
//! with the protocols and interval Azure accepts for the SKU; rules whose names resolve, whose
//! ports are valid, with HA ports only where Azure offers them and without the conflicts Azure
//! refuses [LBSKU23], [LBHA17], [LBFIP23], [LBPROBE18]. What it is not: choosing backends or
//! deciding their health (the data plane), nor the `set_backend_health` event (the events room
//! resolves it with [`Resolver::lb_by_name`] and [`Resolver::lb_backend_rules`]).

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;

use serde_saphyr::Spanned;

use super::firewall::not_public;
use super::resolver::{Kind, Resolver, loc};
use crate::diag::nearest;
use crate::model::*;
use crate::raw::*;
use crate::rules::Rule;

/// The shortest probe interval Azure accepts: 5 seconds [LBPROBE18].
pub const MIN_PROBE_INTERVAL: Nanos = 5_000_000_000;

/// Addresses already held, per VNet: `(vnet, ip)` -> what holds it.
type Taken = HashMap<(u32, Ipv4Addr), String>;

impl<'r> Resolver<'r> {
    /// Every load balancer. Runs after the firewall room (frontend addresses must not be a
    /// NIC's, a firewall's or another resource's public IP).
    pub(super) fn load_balancers(&mut self) {
        let raw = self.raw;
        if raw.load_balancers.is_empty() {
            return;
        }
        self.index(
            "load balancer",
            raw.load_balancers
                .iter()
                .enumerate()
                .map(|(i, l)| (&l.name, format!("load_balancers[{i}].name"))),
        );
        let mut taken: Taken = HashMap::new();
        for n in &self.sc.nics {
            taken.insert((n.vnet.0, n.ip), format!("NIC {}", n.name));
        }
        for f in &self.sc.firewalls {
            taken.insert((f.vnet.0, f.ip), format!("firewall {}", f.name));
        }
        let mut public: HashMap<Ipv4Addr, String> = HashMap::new();
        for n in &self.sc.nics {
            if let Some(p) = n.public_ip {
                public.insert(p.ip, format!("NIC {}", n.name));
            }
        }
        for f in &self.sc.firewalls {
            for ip in &f.public_ips {
                public.insert(*ip, format!("firewall {}", f.name));
            }
        }
        for h in &self.sc.internet_hosts {
            public.insert(h.ip, format!("Internet host {}", h.name));
        }
        // Static internal addresses first, so that an allocated one never takes a static one.
        let mut statics: Vec<(u32, Ipv4Addr)> = Vec::new();
        for l in &raw.load_balancers {
            for f in &l.frontends {
                if let (Some(s), Some(ip)) = (&f.subnet, &f.ip)
                    && let (Some(sub), Ok(ip)) = (
                        self.sc.subnet_by_path(s.value.trim()),
                        ip.value.trim().parse::<Ipv4Addr>(),
                    )
                {
                    statics.push((self.sc.subnets[sub.index()].vnet.0, ip));
                }
            }
        }
        for (i, l) in raw.load_balancers.iter().enumerate() {
            let lb = self.load_balancer(l, i, &mut taken, &statics, &mut public);
            self.sc.load_balancers.push(lb);
        }
    }

    /// One load balancer.
    fn load_balancer(
        &mut self,
        l: &RawLoadBalancer,
        i: usize,
        taken: &mut Taken,
        statics: &[(u32, Ipv4Addr)],
        public: &mut HashMap<Ipv4Addr, String>,
    ) -> LoadBalancer {
        let path = format!("load_balancers[{i}]");
        let sku = match &l.sku {
            None => LbSku::Standard,
            Some(s) => match s.value.trim().to_ascii_lowercase().as_str() {
                "standard" => LbSku::Standard,
                "basic" => LbSku::Basic,
                other => {
                    self.err_help(
                        loc(s),
                        format!("{path}.sku"),
                        Rule::UnknownVariant,
                        format!("`{other}` is not a load balancer SKU"),
                        "use `Standard` or `Basic` [LBSKU23]",
                    );
                    LbSku::Standard
                }
            },
        };
        let mut frontends = Vec::new();
        let mut fe_names: HashMap<&str, u32> = HashMap::new();
        for (k, f) in l.frontends.iter().enumerate() {
            let fpath = format!("{path}.frontends[{k}]");
            self.unique_name(
                &mut fe_names,
                &f.name,
                &fpath,
                "frontend",
                "their load balancer",
            );
            if let Some(fe) = self.frontend(f, &fpath, taken, statics, public) {
                frontends.push((k, fe));
            }
        }
        let pools = self.pools(l, &path, &frontends);
        let mut probes = Vec::new();
        let mut probe_names: HashMap<&str, u32> = HashMap::new();
        for (k, p) in l.probes.iter().enumerate() {
            let ppath = format!("{path}.probes[{k}]");
            self.unique_name(
                &mut probe_names,
                &p.name,
                &ppath,
                "probe",
                "their load balancer",
            );
            if let Some(probe) = self.probe(p, sku, &ppath) {
                probes.push((k, probe));
            }
        }
        let rules = self.lb_rules(l, sku, &path, &frontends, &pools, &probes);
        LoadBalancer {
            name: l.name.value.clone(),
            sku,
            frontends: frontends.into_iter().map(|(_, f)| f).collect(),
            pools,
            probes: probes.into_iter().map(|(_, p)| p).collect(),
            rules,
            down: Vec::new(),
        }
    }

    /// One frontend: internal (subnet, static or allocated IP) or public.
    fn frontend(
        &mut self,
        f: &RawLbFrontend,
        path: &str,
        taken: &mut Taken,
        statics: &[(u32, Ipv4Addr)],
        public: &mut HashMap<Ipv4Addr, String>,
    ) -> Option<LbFrontend> {
        let name = f.name.value.clone();
        match (&f.subnet, &f.public_ip) {
            (Some(_), Some(p)) | (None, Some(p)) if f.ip.is_some() || f.subnet.is_some() => {
                // Both kinds at once, or an internal `ip` beside a public IP.
                self.err_help(
                    loc(p),
                    format!("{path}.public_ip"),
                    Rule::LbFrontend,
                    format!("frontend `{name}` is both internal and public"),
                    "a public frontend names only `public_ip`; an internal one `subnet` and \
                     optionally `ip`",
                );
                None
            }
            (_, Some(p)) => {
                let ip = self.ip(p, format!("{path}.public_ip"))?;
                if let Some(why) = not_public(ip) {
                    self.err_help(
                        loc(p),
                        format!("{path}.public_ip"),
                        Rule::PublicIpRange,
                        format!("{ip} is {why}, not a public address"),
                        "use a public address; documentation ranges such as 203.0.113.0/24 work",
                    );
                    return None;
                }
                if self
                    .sc
                    .vnets
                    .iter()
                    .any(|v| v.address_space.iter().any(|n| n.contains(&ip)))
                {
                    self.err(
                        loc(p),
                        format!("{path}.public_ip"),
                        Rule::PublicIpRange,
                        format!("{ip} lies in a VNet's address space, not a public address"),
                    );
                    return None;
                }
                if let Some(other) = public.get(&ip) {
                    self.err(
                        loc(p),
                        format!("{path}.public_ip"),
                        Rule::PublicIpDuplicate,
                        format!("{ip} is already the public address of {other}"),
                    );
                    return None;
                }
                public.insert(ip, format!("load balancer frontend {name}"));
                Some(LbFrontend {
                    name,
                    ip,
                    kind: LbFrontendKind::Public,
                })
            }
            (None, None) => {
                let (at, field) = match &f.ip {
                    Some(ip) => (loc(ip), "ip"),
                    None => (loc(&f.name), "name"),
                };
                self.err_help(
                    at,
                    format!("{path}.{field}"),
                    Rule::LbFrontend,
                    format!("frontend `{name}` names neither a subnet nor a public IP"),
                    "an internal frontend names `subnet: vnet/subnet`, a public one `public_ip`",
                );
                None
            }
            (Some(s), None) => {
                let Some(subnet) = self.sc.subnet_by_path(s.value.trim()) else {
                    let all: Vec<String> = (0..self.sc.subnets.len())
                        .map(|i| self.sc.subnet_path(SubnetId(i as u32)))
                        .collect();
                    let best = nearest(&s.value, all.iter().map(String::as_str));
                    let msg = format!(
                        "there is no subnet `{}` (write subnets as `vnet/subnet`)",
                        s.value
                    );
                    self.unknown(
                        loc(s),
                        format!("{path}.subnet"),
                        Rule::UnknownSubnet,
                        msg,
                        best,
                        None,
                    );
                    return None;
                };
                let sub = &self.sc.subnets[subnet.index()];
                let (vnet, prefix) = (sub.vnet, sub.prefix);
                let first = u32::from(prefix.network()) + 4;
                let last = u32::from(prefix.broadcast()).saturating_sub(1);
                let ip = match &f.ip {
                    Some(text) => {
                        let ip = self.ip(text, format!("{path}.ip"))?;
                        let v = u32::from(ip);
                        if !(first..=last).contains(&v) {
                            self.err_help(
                                loc(text),
                                format!("{path}.ip"),
                                Rule::LbFrontend,
                                format!(
                                    "{ip} is not a usable address of subnet {} ({prefix})",
                                    s.value
                                ),
                                format!(
                                    "Azure reserves a subnet's first four and last addresses; \
                                     use {}..{}",
                                    Ipv4Addr::from(first),
                                    Ipv4Addr::from(last)
                                ),
                            );
                            return None;
                        }
                        if let Some(other) = taken.get(&(vnet.0, ip)) {
                            self.err(
                                loc(text),
                                format!("{path}.ip"),
                                Rule::LbFrontend,
                                format!("{ip} is already held by {other} in this VNet"),
                            );
                            return None;
                        }
                        ip
                    }
                    None => {
                        // Dynamic allocation: the subnet's first free usable address.
                        let free = (first..=last).map(Ipv4Addr::from).find(|ip| {
                            !taken.contains_key(&(vnet.0, *ip)) && !statics.contains(&(vnet.0, *ip))
                        });
                        let Some(ip) = free else {
                            self.err(
                                loc(s),
                                format!("{path}.subnet"),
                                Rule::LbFrontend,
                                format!("subnet {} has no free address left", s.value),
                            );
                            return None;
                        };
                        ip
                    }
                };
                taken.insert((vnet.0, ip), format!("load balancer frontend {name}"));
                Some(LbFrontend {
                    name,
                    ip,
                    kind: LbFrontendKind::Internal { vnet, subnet },
                })
            }
        }
    }

    /// Backend pools: NICs resolved, in one VNet (the internal frontends' VNet), each in one
    /// pool of this load balancer.
    fn pools(
        &mut self,
        l: &RawLoadBalancer,
        path: &str,
        frontends: &[(usize, LbFrontend)],
    ) -> Vec<LbPool> {
        let mut names: HashMap<&str, u32> = HashMap::new();
        // The VNet backends must sit in: an internal frontend's, else the first backend's.
        let mut home: Option<(VnetId, String)> = frontends.iter().find_map(|(_, f)| match f.kind {
            LbFrontendKind::Internal { vnet, .. } => {
                Some((vnet, format!("the VNet of internal frontend {}", f.name)))
            }
            LbFrontendKind::Public => None,
        });
        let mut pools = Vec::new();
        for (k, p) in l.backend_pools.iter().enumerate() {
            let ppath = format!("{path}.backend_pools[{k}]");
            self.unique_name(
                &mut names,
                &p.name,
                &ppath,
                "backend pool",
                "their load balancer",
            );
            let mut nics = Vec::new();
            let mut in_pool: HashSet<NicId> = HashSet::new();
            for (j, n) in p.nics.iter().enumerate() {
                let npath = format!("{ppath}.nics[{j}]");
                let Some(id) = self.find(Kind::Nic, n, npath.clone()) else {
                    continue;
                };
                let nic = NicId(id);
                // A NIC's IP configuration may be in several pools of one load balancer (an
                // inbound and an outbound pool, as Microsoft's quickstart
                // `load-balancer-standard-create` deploys it), once in each.
                if !in_pool.insert(nic) {
                    self.err_help(
                        loc(n),
                        npath,
                        Rule::LbBackend,
                        format!(
                            "NIC {} is listed twice in backend pool {}",
                            n.value, p.name.value
                        ),
                        "list each NIC once per backend pool",
                    );
                    continue;
                }
                let vnet = self.sc.nics[nic.index()].vnet;
                match &home {
                    Some((v, what)) if *v != vnet => {
                        let msg = format!(
                            "NIC {} is in VNet {}, not in {what} ({})",
                            n.value,
                            self.sc.vnets[vnet.index()].name,
                            self.sc.vnets[v.index()].name
                        );
                        self.err_help(
                            loc(n),
                            npath,
                            Rule::LbBackend,
                            msg,
                            "a load balancer's backends are VMs in one VNet [LBSKU23]",
                        );
                        continue;
                    }
                    Some(_) => {}
                    None => home = Some((vnet, format!("the VNet of backend {}", n.value))),
                }
                nics.push(nic);
            }
            pools.push(LbPool {
                name: p.name.value.clone(),
                nics,
            });
        }
        pools
    }

    /// One probe: protocol (HTTPS on Standard only), port, interval of at least 5 s.
    fn probe(&mut self, p: &RawLbProbe, sku: LbSku, path: &str) -> Option<LbProbe> {
        let protocol = match p.protocol.value.trim().to_ascii_lowercase().as_str() {
            "tcp" => LbProbeProtocol::Tcp,
            "http" => LbProbeProtocol::Http,
            "https" => LbProbeProtocol::Https,
            other => {
                self.err_help(
                    loc(&p.protocol),
                    format!("{path}.protocol"),
                    Rule::LbProbe,
                    format!("`{other}` is not a health probe protocol"),
                    "use `tcp`, `http` or `https` [LBPROBE18]",
                );
                return None;
            }
        };
        if protocol == LbProbeProtocol::Https && sku == LbSku::Basic {
            self.err_help(
                loc(&p.protocol),
                format!("{path}.protocol"),
                Rule::LbProbe,
                "a Basic load balancer has no HTTPS probes",
                "use `tcp` or `http`, or the Standard SKU [LBSKU23]",
            );
            return None;
        }
        let port = self.lb_port(&p.port, &format!("{path}.port"), false)?;
        let interval = self.opt_duration(
            p.interval.as_ref(),
            format!("{path}.interval"),
            MIN_PROBE_INTERVAL,
        );
        if interval < MIN_PROBE_INTERVAL {
            let at = p.interval.as_ref().map_or(loc(&p.name), loc);
            self.err(
                at,
                format!("{path}.interval"),
                Rule::LbProbe,
                "a probe interval is at least 5s [LBPROBE18]",
            );
            return None;
        }
        Some(LbProbe {
            name: p.name.value.clone(),
            protocol,
            port,
            interval,
        })
    }

    /// A port from 1 to 65535, or 0 where `zero` allows it (HA ports).
    fn lb_port(&mut self, p: &Spanned<u32>, path: &str, zero: bool) -> Option<u16> {
        match p.value {
            0 if zero => Some(0),
            1..=65535 => Some(p.value as u16),
            v => {
                self.err_help(
                    loc(p),
                    path,
                    Rule::LbPort,
                    format!("port {v} is outside 1..65535"),
                    "only an HA ports rule (protocol `all`) uses port 0",
                );
                None
            }
        }
    }

    /// A name of this load balancer's frontends, pools or probes.
    fn lb_name(
        &mut self,
        name: &Spanned<String>,
        names: &[&str],
        path: &str,
        kind: &str,
    ) -> Option<u32> {
        if let Some(i) = names.iter().position(|n| *n == name.value) {
            return Some(i as u32);
        }
        let best = nearest(&name.value, names.iter().copied());
        self.unknown(
            loc(name),
            path,
            Rule::LbUnknownName,
            format!("this load balancer has no {kind} named `{}`", name.value),
            best,
            None,
        );
        None
    }

    /// The rules: names, protocol, ports, HA ports, distribution, conflicts.
    fn lb_rules(
        &mut self,
        l: &RawLoadBalancer,
        sku: LbSku,
        path: &str,
        frontends: &[(usize, LbFrontend)],
        pools: &[LbPool],
        probes: &[(usize, LbProbe)],
    ) -> Vec<LbRule> {
        // Names index the model's lists (frontends and probes that failed are left out).
        let fe_names: Vec<&str> = frontends.iter().map(|(_, f)| f.name.as_str()).collect();
        let pool_names: Vec<&str> = pools.iter().map(|p| p.name.as_str()).collect();
        let probe_names: Vec<&str> = probes.iter().map(|(_, p)| p.name.as_str()).collect();
        // Names declared but invalid: reported at their declaration, not again here.
        let declared = |list: &[&Spanned<String>], n: &str| list.iter().any(|d| d.value == n);
        let fe_declared: Vec<&Spanned<String>> = l.frontends.iter().map(|f| &f.name).collect();
        let probe_declared: Vec<&Spanned<String>> = l.probes.iter().map(|p| &p.name).collect();
        let mut names: HashMap<&str, u32> = HashMap::new();
        let mut rules: Vec<(LbRule, &RawLbRule)> = Vec::new();
        for (k, r) in l.rules.iter().enumerate() {
            let rpath = format!("{path}.rules[{k}]");
            self.unique_name(&mut names, &r.name, &rpath, "rule", "their load balancer");
            let frontend = if declared(&fe_declared, &r.frontend.value)
                && !fe_names.contains(&r.frontend.value.as_str())
            {
                None
            } else {
                self.lb_name(
                    &r.frontend,
                    &fe_names,
                    &format!("{rpath}.frontend"),
                    "frontend",
                )
            };
            let pool = self.lb_name(
                &r.backend_pool,
                &pool_names,
                &format!("{rpath}.backend_pool"),
                "backend pool",
            );
            let probe = match &r.probe {
                None => Some(None),
                Some(p)
                    if declared(&probe_declared, &p.value)
                        && !probe_names.contains(&p.value.as_str()) =>
                {
                    None
                }
                Some(p) => self
                    .lb_name(p, &probe_names, &format!("{rpath}.probe"), "probe")
                    .map(Some),
            };
            let protocol = match r.protocol.value.trim().to_ascii_lowercase().as_str() {
                "tcp" => Some(LbProtocol::Tcp),
                "udp" => Some(LbProtocol::Udp),
                "all" => Some(LbProtocol::All),
                other => {
                    self.err_help(
                        loc(&r.protocol),
                        format!("{rpath}.protocol"),
                        Rule::UnknownVariant,
                        format!("`{other}` is not a load-balancing rule protocol"),
                        "use `tcp`, `udp` or `all` (HA ports)",
                    );
                    None
                }
            };
            let distribution = match &r.load_distribution {
                None => Some(LbDistribution::Default),
                Some(d) => match d.value.trim().to_ascii_lowercase().as_str() {
                    "default" => Some(LbDistribution::Default),
                    "source_ip" | "sourceip" => Some(LbDistribution::SourceIp),
                    "source_ip_protocol" | "sourceipprotocol" => {
                        Some(LbDistribution::SourceIpProtocol)
                    }
                    other => {
                        self.err_help(
                            loc(d),
                            format!("{rpath}.load_distribution"),
                            Rule::UnknownVariant,
                            format!("`{other}` is not a distribution mode"),
                            "use `default`, `source_ip` or `source_ip_protocol` [LBDIST23]",
                        );
                        None
                    }
                },
            };
            let Some(protocol) = protocol else { continue };
            let all = protocol == LbProtocol::All;
            let ports = if all {
                if r.frontend_port.value != 0 || r.backend_port.value != 0 {
                    let p = if r.frontend_port.value != 0 {
                        (&r.frontend_port, "frontend_port")
                    } else {
                        (&r.backend_port, "backend_port")
                    };
                    self.err_help(
                        loc(p.0),
                        format!("{rpath}.{}", p.1),
                        Rule::LbHaPorts,
                        "protocol `all` is an HA ports rule, whose ports are 0",
                        "write `frontend_port: 0` and `backend_port: 0` [LBHA17]",
                    );
                    None
                } else {
                    Some((0, 0))
                }
            } else {
                let fp = self.lb_port(&r.frontend_port, &format!("{rpath}.frontend_port"), false);
                let bp = self.lb_port(&r.backend_port, &format!("{rpath}.backend_port"), false);
                fp.zip(bp)
            };
            let (Some(frontend), Some(pool), Some(probe), Some((fp, bp)), Some(distribution)) =
                (frontend, pool, probe, ports, distribution)
            else {
                continue;
            };
            if all {
                let fe = &frontends[frontend as usize].1;
                let why = match (sku, fe.kind) {
                    (LbSku::Basic, _) => Some("a Basic load balancer has no HA ports"),
                    (_, LbFrontendKind::Public) => {
                        Some("HA ports are available on internal frontends only")
                    }
                    _ => None,
                };
                if let Some(why) = why {
                    self.err_help(
                        loc(&r.protocol),
                        format!("{rpath}.protocol"),
                        Rule::LbHaPorts,
                        format!("rule `{}`: {why}", r.name.value),
                        "HA ports need a Standard load balancer and an internal frontend \
                         [LBSKU23], [LBHA17]",
                    );
                    continue;
                }
            }
            rules.push((
                LbRule {
                    name: r.name.value.clone(),
                    frontend,
                    pool,
                    protocol,
                    frontend_port: fp,
                    backend_port: bp,
                    probe,
                    floating_ip: r.floating_ip,
                    distribution,
                },
                r,
            ));
        }
        self.lb_conflicts(&rules, &format!("{path}.rules"), l);
        rules.into_iter().map(|(r, _)| r).collect()
    }

    /// Conflicts between the rules of one load balancer.
    fn lb_conflicts(&mut self, rules: &[(LbRule, &RawLbRule)], path: &str, l: &RawLoadBalancer) {
        let index = |raw: &RawLbRule| {
            l.rules
                .iter()
                .position(|r| std::ptr::eq(r, raw))
                .unwrap_or(0)
        };
        let overlap =
            |a: LbProtocol, b: LbProtocol| a == b || a == LbProtocol::All || b == LbProtocol::All;
        for (k, (rule, raw)) in rules.iter().enumerate() {
            let rpath = format!("{path}[{}]", index(raw));
            // A single non-floating HA ports rule allows no other rule on its load balancer
            // [LBHA17].
            if rules.len() > 1 && rule.is_ha_ports() && !rule.floating_ip {
                self.err_help(
                    loc(&raw.protocol),
                    format!("{rpath}.protocol"),
                    Rule::LbRuleConflict,
                    format!(
                        "HA ports rule `{}` without floating IP is not its load balancer's only rule",
                        rule.name
                    ),
                    "a non-floating HA ports rule allows no other rule on the load balancer \
                     [LBHA17]; enable floating IP or remove the other rules",
                );
                continue;
            }
            for (other, oraw) in &rules[..k] {
                if other.frontend == rule.frontend
                    && overlap(other.protocol, rule.protocol)
                    && other.frontend_port == rule.frontend_port
                {
                    self.err(
                        loc(&raw.frontend_port),
                        format!("{rpath}.frontend_port"),
                        Rule::LbRuleConflict,
                        format!(
                            "rule `{}` takes frontend {} port {} {} like rule `{}` (line {})",
                            rule.name,
                            raw.frontend.value,
                            rule.frontend_port,
                            rule.protocol.as_str(),
                            other.name,
                            loc(&oraw.name).line()
                        ),
                    );
                    break;
                }
                if other.pool == rule.pool
                    && !rule.is_ha_ports()
                    && overlap(other.protocol, rule.protocol)
                    && other.backend_port == rule.backend_port
                    && !(other.floating_ip && rule.floating_ip)
                {
                    self.err_help(
                        loc(&raw.backend_port),
                        format!("{rpath}.backend_port"),
                        Rule::LbRuleConflict,
                        format!(
                            "rule `{}` reuses backend port {} of pool {} like rule `{}` (line {})",
                            rule.name,
                            rule.backend_port,
                            raw.backend_pool.value,
                            other.name,
                            loc(&oraw.name).line()
                        ),
                        "reusing a backend port across rules needs floating IP on each [LBFIP23]",
                    );
                    break;
                }
            }
        }
    }

    /// The load balancer named `name`, reported with the nearest name when there is none.
    pub(super) fn lb_by_name(
        &mut self,
        name: &Spanned<String>,
        path: &str,
    ) -> Option<LoadBalancerId> {
        if let Some(i) = self
            .sc
            .load_balancers
            .iter()
            .position(|l| l.name == name.value)
        {
            return Some(LoadBalancerId(i as u32));
        }
        let names: Vec<String> = self
            .sc
            .load_balancers
            .iter()
            .map(|l| l.name.clone())
            .collect();
        let best = nearest(&name.value, names.iter().map(String::as_str));
        self.unknown(
            loc(name),
            path,
            Rule::LbUnknownName,
            format!("there is no load balancer named `{}`", name.value),
            best,
            None,
        );
        None
    }

    /// `set_backend_health`: the NIC is a backend of the load balancer.
    pub(super) fn lb_backend_rules(
        &mut self,
        lb: LoadBalancerId,
        nic: NicId,
        at: &Spanned<String>,
        path: &str,
    ) -> bool {
        let l = &self.sc.load_balancers[lb.index()];
        if l.has_backend(nic) {
            return true;
        }
        let msg = format!(
            "NIC {} is in no backend pool of load balancer {}",
            at.value, l.name
        );
        self.err(loc(at), path, Rule::LbBackend, msg);
        false
    }
}

#[cfg(test)]
mod tests {
    use crate::model::{LbDistribution, LbFrontendKind, LbSku};

    const BASE: &str = r#"
name: x
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    subnets: [ { name: be, prefix: 10.0.1.0/24 } ]
vms:
  - { name: b1, size: Standard_D2s_v3, nics: [ { name: b1-nic, vnet: hub, subnet: be, ip: 10.0.1.4 } ] }
  - { name: b2, size: Standard_D2s_v3, nics: [ { name: b2-nic, vnet: hub, subnet: be, ip: 10.0.1.6 } ] }
load_balancers:
  - name: ilb
    sku: basic
    frontends:
      - { name: dyn, subnet: hub/be }
      - { name: fixed, subnet: hub/be, ip: 10.0.1.5 }
      - { name: dyn2, subnet: hub/be }
    backend_pools: [ { name: p, nics: [b1-nic, b2-nic] } ]
    probes: [ { name: h, protocol: http, port: 80 } ]
    rules:
      - { name: web, frontend: dyn, backend_pool: p, protocol: tcp, frontend_port: 80, backend_port: 80, probe: h, load_distribution: source_ip }
"#;

    #[test]
    fn an_allocated_frontend_takes_the_first_free_usable_address() {
        let sc = crate::load_str(BASE, "t.yaml").expect("loads");
        let lb = &sc.load_balancers[0];
        assert_eq!(lb.sku, LbSku::Basic);
        // .4 is b1's, .5 the static frontend's, .6 b2's: the allocations take .7 and .8.
        let ips: Vec<String> = lb.frontends.iter().map(|f| f.ip.to_string()).collect();
        assert_eq!(ips, ["10.0.1.7", "10.0.1.5", "10.0.1.8"]);
        assert!(matches!(
            lb.frontends[0].kind,
            LbFrontendKind::Internal { .. }
        ));
        assert_eq!(lb.rules[0].distribution, LbDistribution::SourceIp);
        assert_eq!(lb.rules[0].probe, Some(0));
        assert_eq!(lb.probes[0].interval, super::MIN_PROBE_INTERVAL);
    }

    #[test]
    fn lbsku23_a_basic_load_balancer_has_no_https_probe() {
        let text = BASE.replace("protocol: http, port: 80", "protocol: https, port: 443");
        let err = crate::load_str(&text, "t.yaml").unwrap_err();
        assert_eq!(err.rules(), vec!["lb-probe"]);
    }
}
