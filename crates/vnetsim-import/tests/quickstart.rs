//! Public ARM templates imported as they are published (Azure/azure-quickstart-templates, MIT;
//! each folder under `tests/data/quickstart/` has a `SOURCE.md` naming the repository, path and
//! commit), loaded by the scenario loader, and checked against what Microsoft's documentation
//! says of that network: who reaches whom, and through which hop.
//!
//! Templates that deploy a network without VMs get test VMs appended to the imported scenario
//! (`vms:`, in the template's own subnets), as the workload a user would place there; the
//! network itself is the template's. Secure parameters get a value with `--set`.

use std::path::{Path, PathBuf};

use vnetsim::Sim;
use vnetsim_import::{Import, arm, yaml};
use vnetsim_scenario::DropReason;

fn template(folder: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/quickstart")
        .join(folder)
        .join("azuredeploy.json")
}

/// The template imported with `set` overrides (`name=value`).
fn import(folder: &str, set: &[&str]) -> Import {
    let set: Vec<String> = set.iter().map(|s| s.to_string()).collect();
    arm::import_template(&template(folder), None, &set, folder)
        .unwrap_or_else(|e| panic!("{folder} imports: {e}"))
}

/// The imported scenario as written, with `extra` (a `vms:` block) added to its VMs, loaded
/// with Azure's rules checked.
fn load_with(import: &Import, extra: &str) -> Sim {
    let mut text = yaml::write(&import.header("test"), &import.scenario);
    match (extra.strip_prefix("vms:\n"), text.find("\nvms:\n")) {
        (Some(more), Some(at)) => text.insert_str(at + "\nvms:\n".len(), more),
        _ => {
            text.push('\n');
            text.push_str(extra);
        }
    }
    Sim::from_yaml(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn load(folder: &str, set: &[&str], extra: &str) -> Sim {
    load_with(&import(folder, set), extra)
}

/// One test VM line for `vms:`.
fn vm(name: &str, subnet: &str, ip: &str) -> String {
    format!(
        "- {{ name: {name}, size: Standard_D2s_v3, nics: [ {{ name: {name}-nic, subnet: {subnet}, \
         ip: {ip} }} ] }}\n"
    )
}

fn hop(v: &vnetsim::Verdict, i: usize) -> &str {
    v.path().get(i).map(String::as_str).unwrap_or("")
}

/// vnet-to-vnet-peering: two VNets peered both ways. "Virtual network peering enables you to
/// seamlessly connect two or more virtual networks ... traffic between virtual machines in
/// peered virtual networks uses the Microsoft backbone infrastructure" and "No additional
/// hop": a VM reaches the other directly, both ways
/// (https://learn.microsoft.com/azure/virtual-network/virtual-network-peering-overview).
#[test]
fn vnet_to_vnet_peering_vms_reach_each_other_directly() {
    let imp = import("vnet-to-vnet-peering", &[]);
    assert_eq!(
        imp.imported["Microsoft.Network/virtualNetworks/virtualNetworkPeerings"],
        2
    );
    let sim = load_with(
        &imp,
        &format!(
            "vms:\n{}{}",
            vm("vm1", "vNet1/subnet1", "10.0.0.4"),
            vm("vm2", "vNet2/subnet1", "192.168.0.4")
        ),
    );
    for (a, b) in [("vm1", "vm2"), ("vm2", "vm1")] {
        let v = sim.probe(a, b).tcp(443).send();
        v.assert_delivered().assert_path(&[a, b]);
    }
}

/// vnet-two-subnets: one VNet, two subnets, no route table or NSG. Azure's system route for
/// the VNet's address space (next hop "Virtual network") carries traffic between subnets
/// (https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview#default).
#[test]
fn vnet_two_subnets_route_between_subnets_by_the_system_route() {
    let sim = load(
        "vnet-two-subnets",
        &[],
        &format!(
            "vms:\n{}{}",
            vm("vm1", "VNet1/Subnet1", "10.0.0.4"),
            vm("vm2", "VNet1/Subnet2", "10.0.1.4")
        ),
    );
    let v = sim.probe("vm1", "vm2").tcp(22).send();
    v.assert_delivered().assert_path(&["vm1", "vm2"]);
    assert!(v.detail().contains("vm2"), "{}", v.detail());
    let route = v
        .hops()
        .iter()
        .find(|h| format!("{h:?}").contains("VnetLocal"));
    assert!(route.is_some(), "{:#?}", v.hops());
}

/// security-group-create: an NSG on the subnet with one inbound rule (TCP, source ports 23-45,
/// destination ports 46-56, priority 123). Rules are processed in priority order, lowest
/// number first, and processing stops at the first match; the default AllowVnetInBound
/// (65000) allows the rest of the VNet's traffic
/// (https://learn.microsoft.com/azure/virtual-network/network-security-groups-overview).
#[test]
fn security_group_create_first_rule_decides_before_the_default_rules() {
    let sim = load(
        "security-group-create",
        &[],
        &format!(
            "vms:\n{}{}",
            vm("vm1", "virtualNetwork1/subnet", "10.0.0.4"),
            vm("vm2", "virtualNetwork1/subnet", "10.0.0.5")
        ),
    );
    let matched = sim.probe("vm1", "vm2").tcp(50).src_port(30).send();
    matched.assert_delivered();
    assert!(
        matched
            .allowed_by()
            .iter()
            .any(|r| r == "networkSecurityGroup1 first_rule (priority 123)"),
        "{:?}",
        matched.allowed_by()
    );
    let other = sim.probe("vm1", "vm2").tcp(80).send();
    other.assert_delivered();
    assert!(
        other
            .allowed_by()
            .iter()
            .any(|r| r.contains("AllowVNetInBound")),
        "{:?}",
        other.allowed_by()
    );
}

/// vnet-to-vnet-bgp: two VNets joined by a VNet-to-VNet connection between route-based VPN
/// gateways with BGP. Traffic between them crosses both gateways
/// (https://learn.microsoft.com/azure/vpn-gateway/vpn-gateway-howto-vnet-vnet-resource-manager-portal,
/// https://learn.microsoft.com/azure/vpn-gateway/vpn-gateway-bgp-overview).
#[test]
fn vnet_to_vnet_bgp_traffic_crosses_both_gateways() {
    let imp = import("vnet-to-vnet-bgp", &["sharedKey=not-a-secret"]);
    assert_eq!(imp.imported["Microsoft.Network/connections"], 2);
    let sim = load_with(
        &imp,
        &format!(
            "vms:\n{}{}",
            vm("vm1", "vNet1-westeurope/subnet1", "10.0.0.4"),
            vm("vm2", "vnet2-westeurope/subnet1", "10.0.2.4")
        ),
    );
    for (a, ga, gb, b) in [
        ("vm1", "vNet1-Gateway", "vnet2-Gateway", "vm2"),
        ("vm2", "vnet2-Gateway", "vNet1-Gateway", "vm1"),
    ] {
        let v = sim.probe(a, b).tcp(443).send();
        v.assert_delivered().assert_path(&[a, ga, gb, b]);
    }
}

/// site-to-site-vpn-create: a VPN gateway with an IPsec connection to a local network gateway
/// whose address space is 192.168.0.0/16 and 172.16.0.0/12. The local network gateway's
/// prefixes are what Azure routes to the VPN gateway; other private addresses have no route
/// (the system route for 10.0.0.0/8 outside the VNet is next hop None)
/// (https://learn.microsoft.com/azure/vpn-gateway/tutorial-site-to-site-portal,
/// https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview#default).
#[test]
fn site_to_site_vpn_create_reaches_the_local_network_through_the_gateway() {
    let imp = import("site-to-site-vpn-create", &["sharedKey=not-a-secret"]);
    let text = yaml::write(&imp.header("test"), &imp.scenario);
    // Hosts at the site (the on-premises side is the local network gateway's address space).
    let marker = "- name: localGateway\n";
    assert!(text.contains(marker), "{text}");
    let text = text.replacen(
        marker,
        "- name: localGateway\n  hosts: [ { name: onprem1, ip: 192.168.1.10 }, { name: onprem2, ip: 172.16.5.10 } ]\n",
        1,
    ) + "\nvms:\n"
        + &vm("vm1", "azureVnet/Subnet1", "10.3.1.4");
    let sim = Sim::from_yaml(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    for host in ["onprem1", "onprem2"] {
        let v = sim.probe("vm1", host).tcp(443).send();
        v.assert_delivered()
            .assert_path(&["vm1", "azureGateway", host]);
        let back = sim.probe(host, "vm1").tcp(22).send();
        back.assert_delivered();
    }
    let v = sim.probe("vm1", "10.9.0.5").tcp(443).send();
    assert_eq!(v.reason(), Some(DropReason::NoRoute), "{}", v.detail());
}

/// fw-docs-qs (quickstart "Deploy Azure Firewall with multiple public IP addresses"): two
/// public IPs with DNAT rules to the two VMs' RDP, and a 0.0.0.0/0 route from the backend
/// subnet to the firewall. Inbound RDP to each public IP is translated to its VM and allowed
/// by the VM's NSG; traffic inside the VNet follows the VNet's system route (longer than
/// 0.0.0.0/0), not the firewall; outbound Internet traffic goes to the firewall, whose
/// application rules match names only, so a bare IP is denied by default
/// (https://learn.microsoft.com/azure/firewall/quick-create-multiple-ip-template,
/// https://learn.microsoft.com/azure/firewall/rule-processing).
#[test]
fn fw_docs_qs_dnat_per_public_ip_and_outbound_through_the_firewall() {
    let imp = import(
        "fw-docs-qs",
        &["adminUsername=azureuser", "adminPassword=Not-a-Secret-1"],
    );
    // The sample's FQDN-tag rule (WindowsUpdate) is named, not silently dropped.
    assert!(
        imp.warnings.iter().any(|w| w.contains("WindowsUpdate")),
        "{:?}",
        imp.warnings
    );
    // Standard_B2ms is not in the catalog: a same-series size stands for it, said.
    assert!(
        imp.warnings.iter().any(|w| w.contains("Standard_B2ms")),
        "{:?}",
        imp.warnings
    );
    let sim = load_with(&imp, "");
    let fw = sim.scenario().firewalls[0].name.to_string();
    let pips: Vec<String> = sim.scenario().firewalls[0]
        .public_ips
        .iter()
        .map(|ip| ip.to_string())
        .collect();
    assert_eq!(pips.len(), 2, "{:?}", imp.warnings);
    for (pip, target) in pips.iter().zip(["myVM1", "myVM2"]) {
        let v = sim.probe("198.51.100.7", pip).tcp(3389).send();
        v.assert_delivered()
            .assert_path(&["198.51.100.7", &fw, target]);
        let other_port = sim.probe("198.51.100.7", pip).tcp(22).send();
        assert!(other_port.is_dropped(), "{}", other_port.detail());
    }
    let inside = sim.probe("myVM1", "myVM2").tcp(3389).send();
    inside.assert_delivered().assert_path(&["myVM1", "myVM2"]);
    let out = sim.probe("myVM1", "198.51.100.7").tcp(443).send();
    assert_eq!(
        out.reason(),
        Some(DropReason::FirewallDenied),
        "{}",
        out.detail()
    );
    assert_eq!(hop(&out, 0), "myVM1");
}

/// internal-loadbalancer-create: a Standard internal load balancer, frontend 10.0.0.6, rule
/// TCP 80 to a pool of the two backend VMs. A client in the VNet reaching the frontend on 80
/// is sent to a pool member; a port without a rule is not served
/// (https://learn.microsoft.com/azure/load-balancer/quickstart-load-balancer-standard-internal-template,
/// https://learn.microsoft.com/azure/load-balancer/components#load-balancing-rules).
#[test]
fn internal_loadbalancer_create_frontend_serves_port_80_from_the_pool() {
    let sim = load(
        "internal-loadbalancer-create",
        &["adminUsername=azureuser", "adminPassword=Not-a-Secret-1"],
        &format!(
            "vms:\n{}",
            vm("client", "lb-vnet/backend-subnet", "10.0.0.10")
        ),
    );
    let v = sim.probe("client", "10.0.0.6").tcp(80).send();
    v.assert_delivered();
    assert_eq!(hop(&v, 1), "internal-lb", "{}", v.detail());
    let to = v.delivered_to().unwrap_or("");
    assert!(to == "BackendVM0" || to == "BackendVM1", "{}", v.detail());
    let ssh = sim.probe("client", "10.0.0.6").tcp(22).send();
    assert_eq!(ssh.reason(), Some(DropReason::LbNoRule), "{}", ssh.detail());
}

/// private-endpoint-sql: a private endpoint for an Azure SQL server in the VM's subnet. The
/// VM reaches the endpoint's private address on 1433 within the VNet; the endpoint's /32
/// route is what carries it; the server's name is in `database.windows.net`
/// (https://learn.microsoft.com/azure/private-link/private-endpoint-overview,
/// https://learn.microsoft.com/azure/private-link/private-endpoint-dns,
/// https://learn.microsoft.com/azure/private-link/create-private-endpoint-template).
#[test]
fn private_endpoint_sql_vm_reaches_the_endpoint() {
    let imp = import(
        "private-endpoint-sql",
        &[
            "sqlAdministratorLogin=sqladmin",
            "sqlAdministratorLoginPassword=Not-a-Secret-1",
            "vmAdminUsername=azureuser",
            "vmAdminPassword=Not-a-Secret-1",
        ],
    );
    let sim = load_with(&imp, "");
    let sc = sim.scenario();
    assert_eq!(sc.private_endpoints.len(), 1);
    // The name clients resolve: the SQL server's, in its service's public zone (the template
    // names the server `sqlserver<uniqueString(resourceGroup().id)>`).
    let service = &*sc.private_endpoints[0].service;
    assert!(
        service.starts_with("sqlserver") && service.ends_with(".database.windows.net"),
        "{service}"
    );
    let vm_name = sc.vms[0].name.to_string();
    let v = sim.probe(&vm_name, "myPrivateEndpoint").tcp(1433).send();
    v.assert_delivered()
        .assert_path(&[vm_name.as_str(), "myPrivateEndpoint"]);
}

/// azurefirewall-create-with-ipgroups-and-linux-jumpbox: the servers subnet's 0.0.0.0/0 route
/// sends Internet traffic to the firewall, whose network rule allows port 90 only from
/// 10.0.0.0, 111.1.0.0/23 and an IP group, so the server (10.0.2.4) is denied by default;
/// the jump box subnet has no route table and reaches the server directly (the VNet's system
/// route), and the server reaches the jump box's SSH, allowed by the jump box NSG
/// (https://learn.microsoft.com/azure/firewall/ip-groups,
/// https://learn.microsoft.com/azure/firewall/rule-processing,
/// https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview).
#[test]
fn azurefirewall_create_with_ipgroups_and_linux_jumpbox_servers_go_through_the_firewall() {
    let imp = import(
        "azurefirewall-create-with-ipgroups-and-linux-jumpbox",
        &["adminUsername=azureuser", "adminPasswordOrKey=ssh-rsa AAAA"],
    );
    // `*bing.com` is Azure's wildcard for bing.com and its subdomains.
    assert!(
        imp.warnings.iter().any(|w| w.contains("*bing.com")),
        "{:?}",
        imp.warnings
    );
    let sim = load_with(&imp, "");
    let out = sim.probe("Server", "12.0.0.5").tcp(90).send();
    assert_eq!(
        out.reason(),
        Some(DropReason::FirewallDenied),
        "{}",
        out.detail()
    );
    let ssh = sim.probe("Server", "JumpBox").tcp(22).send();
    ssh.assert_delivered().assert_path(&["Server", "JumpBox"]);
    assert!(
        ssh.allowed_by()
            .iter()
            .any(|r| r.contains("myNetworkSecurityGroupRuleSSH")),
        "{:?}",
        ssh.allowed_by()
    );
    let back = sim.probe("JumpBox", "Server").tcp(22).send();
    back.assert_delivered().assert_path(&["JumpBox", "Server"]);
}

/// azurefirewall-with-zones-sandbox: the servers subnet's 0.0.0.0/0 route to the firewall, a
/// network rule allowing TCP 8000-8999 from 10.0.2.0/24 to any address and an application
/// rule for www.microsoft.com. A network rule matches addresses, so the server reaches an
/// Internet address on 8080 through the firewall; other ports match no rule and Azure
/// Firewall denies by default
/// (https://learn.microsoft.com/azure/firewall/deploy-availability-zone-powershell,
/// https://learn.microsoft.com/azure/firewall/rule-processing,
/// https://learn.microsoft.com/azure/firewall/tutorial-firewall-deploy-portal).
#[test]
fn azurefirewall_with_zones_sandbox_network_rule_allows_8000_8999_only() {
    let sim = load(
        "azurefirewall-with-zones-sandbox",
        &["adminUsername=azureuser", "adminPassword=Not-a-Secret-1"],
        "",
    );
    let v = sim.probe("Server", "198.51.100.7").tcp(8080).send();
    v.assert_delivered();
    assert_eq!(hop(&v, 1), "firewall1", "{}", v.detail());
    for port in [22, 7999, 9000] {
        let d = sim.probe("Server", "198.51.100.7").tcp(port).send();
        assert_eq!(
            d.reason(),
            Some(DropReason::FirewallDenied),
            "{}",
            d.detail()
        );
    }
    // The jump box subnet has no route table: its Internet traffic does not meet the
    // firewall, and leaves by the jump box's own public IP (a private subnet without one would
    // have no outbound access).
    let jump = sim.probe("JumpBox", "198.51.100.7").tcp(22).send();
    jump.assert_delivered()
        .assert_path(&["JumpBox", "Internet"]);
}

/// mspnp/samples azure-hub-spoke (the Architecture Center's hub-spoke reference
/// implementation): a hub with Azure Firewall, two spokes peered to the hub only, each spoke
/// subnet routing 0.0.0.0/0 to the firewall. Spokes are not peered with each other and
/// peering is not transitive, so spoke-to-spoke traffic takes the UDR to the firewall; the
/// firewall's policy allows only UDP 53, so TCP is denied by default; and even DNS forwarded
/// by the firewall is dropped entering the other spoke, whose peering to the hub does not
/// allow forwarded traffic (source outside the hub). Internet DNS goes out through the firewall
/// (https://learn.microsoft.com/azure/architecture/networking/architecture/hub-spoke,
/// https://learn.microsoft.com/azure/virtual-network/virtual-network-peering-overview,
/// https://learn.microsoft.com/azure/virtual-network/virtual-network-manage-peering#create-a-peering,
/// https://learn.microsoft.com/azure/firewall/rule-processing).
#[test]
fn mspnp_azure_hub_spoke_spokes_meet_only_through_the_firewall() {
    let imp = import(
        "mspnp-azure-hub-spoke",
        &["adminPassword=Not-a-Secret-1", "deployVirtualMachines=true"],
    );
    // The spoke NSG's source is `reference(<AzureBastionSubnet>).addressPrefix`, a subnet
    // declared inside its VNet: answered from the declaration.
    let text = yaml::write(&imp.header("test"), &imp.scenario);
    assert!(text.contains("source: 10.0.1.0/26"), "{text}");
    // The Bastion NSG's GatewayManager and AzureCloud rules are named, not kept half-read.
    assert!(
        imp.warnings.iter().any(|w| w.contains("GatewayManager")),
        "{:?}",
        imp.warnings
    );
    let sim = load_with(&imp, "");
    let one = "vm-westeurope-spoke-one-linux";
    let two = "vm-westeurope-spoke-two-windows";
    let fw = "fw-westeurope";
    for (a, b) in [(one, two), (two, one)] {
        let tcp = sim.probe(a, b).tcp(22).send();
        assert_eq!(
            tcp.reason(),
            Some(DropReason::FirewallDenied),
            "{}",
            tcp.detail()
        );
        let dns = sim.probe(a, b).udp(53).send();
        assert_eq!(
            dns.reason(),
            Some(DropReason::ForwardedTrafficBlocked),
            "{}",
            dns.detail()
        );
        assert_eq!(hop(&dns, 1), fw, "{}", dns.detail());
    }
    let dns_out = sim.probe(one, "198.51.100.7").udp(53).send();
    dns_out
        .assert_delivered()
        .assert_path(&[one, fw, "Internet"]);
    let https_out = sim.probe(one, "198.51.100.7").tcp(443).send();
    assert_eq!(
        https_out.reason(),
        Some(DropReason::FirewallDenied),
        "{}",
        https_out.detail()
    );
}

/// vm-simple-windows (the template of "Quickstart: Create a Windows virtual machine using an
/// ARM template"): a VM with a public IP in a subnet whose NSG allows inbound TCP 3389 only,
/// "to connect to the VM using RDP"; the NSG's default rules deny the rest of the Internet's
/// traffic (https://learn.microsoft.com/azure/virtual-machines/windows/quick-create-template,
/// https://learn.microsoft.com/azure/virtual-network/network-security-groups-overview#default-security-rules).
/// Its `hostname` output reads the public IP's `dnsSettings.fqdn`, which Azure gives at
/// deployment as `<label>.<region>.cloudapp.azure.com`.
#[test]
fn vm_simple_windows_is_reached_by_rdp_from_the_internet_only() {
    let imp = import(
        "vm-simple-windows",
        &["adminUsername=azureuser", "adminPassword=Not-a-Secret-1"],
    );
    let sim = load_with(&imp, "");
    let vm = &sim.scenario().vms[0];
    let nic = &sim.scenario().nics[vm.nics[0].index()];
    let public = nic
        .public_ip
        .expect("the VM has a public IP")
        .ip
        .to_string();
    let rdp = sim.probe("198.51.100.7", &public).tcp(3389).send();
    rdp.assert_delivered();
    for port in [22, 80, 445] {
        let d = sim.probe("198.51.100.7", &public).tcp(port).send();
        assert_eq!(
            d.reason(),
            Some(DropReason::NsgDenied),
            "{port}: {}",
            d.detail()
        );
    }
}

/// vm-windows-ssh ("Deploy a single Windows VM with Open SSH enabled so that you can connect
/// through SSH"): its NSG denies TCP 3389 and allows TCP 22 from anywhere, so the VM is reached
/// by SSH and not by RDP. The NIC names its subnet as
/// `reference(virtualNetwork).subnets[0].id`, the id Azure gives the subnet declared inside its
/// VNet.
#[test]
fn vm_windows_ssh_is_reached_by_ssh_and_not_rdp() {
    let imp = import(
        "vm-windows-ssh",
        &[
            "adminUser=azureuser",
            "adminPassword=Not-a-Secret-1",
            "publicSshKey=ssh-rsa AAAAB3NzaC1yc2E azureuser@example",
        ],
    );
    let sim = load_with(&imp, "");
    let vm = &sim.scenario().vms[0];
    let nic = &sim.scenario().nics[vm.nics[0].index()];
    assert_eq!(nic.ip, std::net::Ipv4Addr::new(10, 0, 0, 4));
    let public = nic
        .public_ip
        .expect("the VM has a public IP")
        .ip
        .to_string();
    sim.probe("198.51.100.7", &public)
        .tcp(22)
        .send()
        .assert_delivered();
    let rdp = sim.probe("198.51.100.7", &public).tcp(3389).send();
    assert_eq!(
        rdp.reason(),
        Some(DropReason::NsgDenied),
        "{}",
        rdp.detail()
    );
}

/// azurefirewall-sandbox-linux: the servers' subnet routes 0.0.0.0/0 to the firewall, whose
/// classic network rule allows TCP 8000-8999 from 10.0.2.0/24 to anywhere. Its application
/// rule names no source at all (the classic API lets `sourceAddresses` be left out, and
/// Azure's pages do not say what such a rule matches): the import leaves it out and says so,
/// so the network rule alone decides and everything else meets the default deny
/// (https://learn.microsoft.com/azure/firewall/rule-processing).
#[test]
fn azurefirewall_sandbox_linux_a_rule_with_no_source_is_left_out_and_said() {
    let imported = import(
        "azurefirewall-sandbox-linux",
        &[
            "adminUsername=azureuser",
            "adminPasswordOrKey=Not-a-Secret-1",
        ],
    );
    assert!(
        imported
            .warnings
            .iter()
            .any(|w| w.contains("appRule1 names no source addresses or IP groups")),
        "{:#?}",
        imported.warnings
    );
    let sim = load_with(&imported, "");
    let v = sim.probe("Server", "198.51.100.7").tcp(8443).send();
    v.assert_delivered();
    assert_eq!(hop(&v, 1), "firewall1", "{}", v.detail());
    for port in [80, 443, 9000] {
        let d = sim.probe("Server", "198.51.100.7").tcp(port).send();
        assert_eq!(
            d.reason(),
            Some(DropReason::FirewallDenied),
            "{port}: {}",
            d.detail()
        );
    }
}

/// azurefirewall-premium: a worker subnet routed to a Premium firewall whose policy allows
/// HTTPS to `*azure.com` and `*microsoft.com` from anywhere. Its rules by web category and by
/// target URL (Premium's URL filtering) match what no scenario holds, so the import leaves
/// them out and names them; a host whose declared name matches `*microsoft.com` (the name or
/// any name under it) is reached on 443 only, any other host is denied by default
/// (https://learn.microsoft.com/azure/firewall/premium-features,
/// https://learn.microsoft.com/azure/firewall/firewall-faq#how-do-wildcards-work-in-target-urls-and-target-fqdns-in-application-rules).
#[test]
fn azurefirewall_premium_fqdn_rules_decide_and_web_categories_and_urls_are_named() {
    let imported = import(
        "azurefirewall-premium",
        &[
            "remoteAccessUsername=azureuser",
            "remoteAccessPassword=Not-a-Secret-1",
        ],
    );
    for rule in [
        "AllowNews matches web categories only",
        "BlockAzureEvents matches target URLs only",
    ] {
        assert!(
            imported.warnings.iter().any(|w| w.contains(rule)),
            "{rule}: {:#?}",
            imported.warnings
        );
    }
    let sim = load_with(
        &imported,
        "names:\n  learn.microsoft.com: 198.51.100.20\n  news.example.com: 198.51.100.21\n",
    );
    let v = sim.probe("WorkerVM", "198.51.100.20").tcp(443).send();
    v.assert_delivered();
    assert_eq!(hop(&v, 1), "DemoFirewall", "{}", v.detail());
    for (ip, port) in [("198.51.100.20", 80), ("198.51.100.21", 443)] {
        let d = sim.probe("WorkerVM", ip).tcp(port).send();
        assert_eq!(
            d.reason(),
            Some(DropReason::FirewallDenied),
            "{ip}:{port}: {}",
            d.detail()
        );
    }
}

/// vm-to-vm-bandwidth-meter ("run a VM-to-VM bandwidth test using PsPing"): the probe VM
/// measures the target VM through the target's public IP on TCP 80, and the target's NSG
/// allows TCP 80 only from the probe VM's public IP, written as
/// `reference(probe public IP).ipAddress`. Azure allocates that address at deployment
/// (https://learn.microsoft.com/azure/virtual-network/ip-services/public-ip-addresses#ip-address-assignment);
/// the import's stand-in for it answers the `reference()`, so the rule admits the probe VM
/// (its traffic to a public address leaves from its own public IP) and no other Internet host.
#[test]
fn vm_to_vm_bandwidth_meter_the_nsg_admits_the_probe_vms_public_ip_by_reference() {
    let imp = import(
        "vm-to-vm-bandwidth-meter",
        &[
            "adminUsername=azureuser",
            "adminPassword=Not-a-Secret-1",
            "probeVmLocation=westus",
            "targetVmLocation=eastus2",
        ],
    );
    assert!(
        !imp.warnings
            .iter()
            .any(|w| w.contains("sourceAddressPrefix")),
        "{:?}",
        imp.warnings
    );
    let sim = load_with(&imp, "");
    let public = |vm: &str| {
        let sc = sim.scenario();
        let vm = sc.vms.iter().find(|v| &*v.name == vm).expect("the VM");
        let nic = &sc.nics[vm.nics[0].index()];
        nic.public_ip.expect("a public IP").ip.to_string()
    };
    let (probe, target) = (public("probeVM"), public("targetVM"));
    let rule = &sim.scenario().nsgs[0].rules[0];
    assert_eq!(&*rule.name, "web-rule");
    let d = sim.probe("probeVM", &target).tcp(80).send();
    d.assert_delivered();
    let other = sim.probe("198.51.100.7", &target).tcp(80).send();
    assert_eq!(
        other.reason(),
        Some(DropReason::NsgDenied),
        "{}",
        other.detail()
    );
    assert_ne!(probe, "198.51.100.7");
}

/// site-to-site-vpn-create with BGP turned on at the gateway (SKU Standard, `bgpSettings` ASN
/// 65010) and on
/// the connection, but not at the local network gateway, which keeps no `bgpSettings`. A BGP
/// session needs an ASN and a peer address at both ends, which Microsoft's how-to gives both
/// (https://learn.microsoft.com/azure/vpn-gateway/bgp-howto); its pages do not say what such a
/// connection does, so the import keeps it without BGP, says so, and the site is reached
/// through its declared address space instead of failing.
#[test]
fn site_to_site_bgp_towards_a_local_gateway_without_bgp_settings_imports_with_a_warning() {
    let text = std::fs::read_to_string(template("site-to-site-vpn-create")).unwrap();
    let text = text
        .replacen(
            "\"enableBgp\": \"false\"",
            "\"enableBgp\": \"true\", \"bgpSettings\": { \"asn\": 65010 }",
            1,
        )
        .replacen(
            "\"connectionType\": \"IPsec\",",
            "\"connectionType\": \"IPsec\", \"enableBgp\": true,",
            1,
        );
    assert_eq!(text.matches("65010").count(), 1);
    let dir = std::env::temp_dir().join(format!("vnetsim-s2s-bgp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("azuredeploy.json");
    std::fs::write(&path, text).unwrap();
    // Basic has no BGP; the legacy Standard is migrated to VpnGw1AZ, as Azure does.
    let set = vec![
        "sharedKey=not-a-secret".to_string(),
        "gatewaySku=Standard".to_string(),
    ];
    let imp = arm::import_template(&path, None, &set, "s2s-bgp");
    let _ = std::fs::remove_dir_all(&dir);
    let imp = imp.unwrap_or_else(|e| panic!("imports: {e}"));
    assert!(
        imp.warnings
            .iter()
            .any(|w| w.contains("enables BGP, but localGateway has no BGP settings")),
        "{:?}",
        imp.warnings
    );
    let yaml = yaml::write(&imp.header("test"), &imp.scenario);
    let marker = "- name: localGateway\n";
    let yaml = yaml.replacen(
        marker,
        "- name: localGateway\n  hosts: [ { name: onprem1, ip: 192.168.1.10 } ]\n",
        1,
    ) + "\nvms:\n"
        + &vm("vm1", "azureVnet/Subnet1", "10.3.1.4");
    let sim = Sim::from_yaml(&yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    sim.probe("vm1", "onprem1")
        .tcp(443)
        .send()
        .assert_delivered()
        .assert_path(&["vm1", "azureGateway", "onprem1"]);
}

/// hub-and-spoke-sandbox: a hub and two spokes peered with it, and (with `deployVpnGateway`)
/// a VPN gateway in the hub whose peerings ask for gateway transit. The gateway is of the
/// template's default Basic SKU, and "Gateway transit is supported for all VPN Gateway SKUs
/// except the Basic SKU" (https://learn.microsoft.com/azure/vpn-gateway/vpn-gateway-peering-gateway-transit):
/// the import writes those peerings without transit and names each, so the scenario loads.
/// Each spoke reaches the hub by its peering, and the spokes do not reach each other: peering
/// is not transitive (https://learn.microsoft.com/azure/virtual-network/virtual-network-peering-overview).
#[test]
fn hub_and_spoke_sandbox_basic_gateway_peerings_are_imported_without_transit() {
    let imported = import(
        "hub-and-spoke-sandbox",
        &[
            "winVmUser=azureuser",
            "winVmPassword=Not-a-Secret-1",
            "winVmDnsPrefix=jump",
            "deployVpnGateway=Yes",
        ],
    );
    let no_transit: Vec<&String> = imported
        .warnings
        .iter()
        .filter(|w| w.contains("which gateway transit does not support"))
        .collect();
    assert_eq!(no_transit.len(), 4, "{:#?}", imported.warnings);
    assert!(
        no_transit
            .iter()
            .any(|w| w.contains("use_remote_gateways written as false")),
        "{no_transit:#?}"
    );
    let sim = load_with(
        &imported,
        &format!(
            "vms:\n{}{}{}",
            vm("dev1", "spokeDevVnet/WorkloadSubnet", "10.10.0.10"),
            vm("prod1", "spokeProdVnet/WorkloadSubnet", "10.100.0.10"),
            vm("shared1", "hubVnet/SharedSubnet", "192.168.4.10")
        ),
    );
    for spoke in ["dev1", "prod1"] {
        sim.probe(spoke, "shared1")
            .tcp(443)
            .send()
            .assert_delivered();
    }
    let across = sim.probe("dev1", "prod1").tcp(443).send();
    assert!(across.reason().is_some(), "{}", across.detail());
}
