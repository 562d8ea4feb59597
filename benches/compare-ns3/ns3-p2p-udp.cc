// ns3-p2p-udp: the ns-3 half of benches/compare-ns3.
//
// Two nodes, one PointToPoint link, one UdpClient sending exactly --packets datagrams of
// --ip-size bytes (whole IPv4 packet) every --interval-ns nanoseconds to a UdpServer on the other
// node. No logging is enabled, no pcap, no ascii trace, no FlowMonitor. The wall time is measured
// around Simulator::Run() only; the program then checks that the server received every packet
// and prints one JSON line.
//
// Build (as run.sh does, against Debian's libns3-dev):
//   g++ -O2 -std=c++17 -o ns3-p2p-udp ns3-p2p-udp.cc -lns3-applications -lns3-point-to-point \
//       -lns3-internet -lns3-traffic-control -lns3-network -lns3-core

#include "ns3/applications-module.h"
#include "ns3/core-module.h"
#include "ns3/internet-module.h"
#include "ns3/network-module.h"
#include "ns3/point-to-point-module.h"
#include "ns3/traffic-control-module.h"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

using namespace ns3;

int
main(int argc, char* argv[])
{
    uint64_t packets = 1000000;
    uint32_t ipSize = 1000;        // bytes of the whole IPv4 packet, as vnetsim's packet_size
    uint64_t intervalNs = 8000;    // gap between two datagrams
    uint64_t linkBps = 1002000000; // PointToPoint DataRate, bits per second
    uint64_t delayNs = 30000;      // PointToPoint Delay (vnetsim's latency.host_to_host)
    std::string qdisc = "none";    // "none": IP hands packets straight to the device's FIFO;
                                   // "default": ns-3's default queue disc (FqCoDel)

    CommandLine cmd(__FILE__);
    cmd.AddValue("packets", "datagrams the client sends", packets);
    cmd.AddValue("ip-size", "bytes of each IPv4 packet (IP + UDP headers + payload)", ipSize);
    cmd.AddValue("interval-ns", "nanoseconds between two datagrams", intervalNs);
    cmd.AddValue("link-bps", "PointToPoint DataRate in bits per second", linkBps);
    cmd.AddValue("delay-ns", "PointToPoint propagation delay in nanoseconds", delayNs);
    cmd.AddValue("qdisc", "none or default (ns-3's FqCoDel on the sender's device)", qdisc);
    cmd.Parse(argc, argv);

    // UdpClient's PacketSize is the UDP payload (it includes its 12-byte SeqTsHeader).
    const uint32_t headers = 20 + 8;
    if (ipSize < headers + 12)
    {
        std::fprintf(stderr, "ip-size must be at least %u (IP + UDP + SeqTsHeader)\n", headers + 12);
        return 2;
    }
    if (qdisc != "none" && qdisc != "default")
    {
        std::fprintf(stderr, "qdisc must be none or default\n");
        return 2;
    }
    const uint32_t payload = ipSize - headers;

    NodeContainer nodes;
    nodes.Create(2);

    PointToPointHelper p2p;
    p2p.SetDeviceAttribute("DataRate", DataRateValue(DataRate(linkBps)));
    p2p.SetChannelAttribute("Delay", TimeValue(NanoSeconds(delayNs)));
    NetDeviceContainer devices = p2p.Install(nodes);

    InternetStackHelper stack;
    stack.Install(nodes);
    Ipv4AddressHelper address;
    address.SetBase("10.10.0.0", "255.255.255.0");
    Ipv4InterfaceContainer ifaces = address.Assign(devices);
    if (qdisc == "none")
    {
        // Assign() installed ns-3's default queue disc; remove it so that, as in vnetsim, a
        // packet meets one FIFO (the device's DropTail queue) on its way out.
        TrafficControlHelper tch;
        tch.Uninstall(devices);
    }

    const uint16_t port = 5001;
    UdpServerHelper server(port);
    ApplicationContainer serverApps = server.Install(nodes.Get(1));
    serverApps.Start(Seconds(0));

    UdpClientHelper client(ifaces.GetAddress(1), port);
    client.SetAttribute("MaxPackets", UintegerValue(static_cast<uint32_t>(packets)));
    client.SetAttribute("Interval", TimeValue(NanoSeconds(intervalNs)));
    client.SetAttribute("PacketSize", UintegerValue(payload));
    ApplicationContainer clientApps = client.Install(nodes.Get(0));
    clientApps.Start(Seconds(0));
    // No stop times: the client stops scheduling after MaxPackets and Run() returns when the
    // last datagram has been received.

    Ptr<UdpClient> udpClient = DynamicCast<UdpClient>(clientApps.Get(0));
    Ptr<UdpServer> udpServer = DynamicCast<UdpServer>(serverApps.Get(0));

    const auto started = std::chrono::steady_clock::now();
    Simulator::Run();
    const auto finished = std::chrono::steady_clock::now();
    const double wall = std::chrono::duration<double>(finished - started).count();
    const uint64_t simulatedNs = static_cast<uint64_t>(Simulator::Now().GetNanoSeconds());
    const uint64_t events = Simulator::GetEventCount();

    // UdpClient counts bytes it handed to its socket; every datagram carries `payload` bytes.
    const uint64_t sent = udpClient->GetTotalTx() / payload;
    const uint64_t received = udpServer->GetReceived();
    const uint64_t lost = udpServer->GetLost();
    Simulator::Destroy();

    std::printf("{\"tool\":\"ns-3\",\"version\":\"%u.%u.%u\",\"build_profile\":\"%s\",\"packets_sent\":%llu,\"packets_received\":%llu,"
                "\"lost\":%llu,\"ip_size\":%u,\"udp_payload\":%u,\"interval_ns\":%llu,"
                "\"link_bps\":%llu,\"delay_ns\":%llu,\"qdisc\":\"%s\",\"simulated_ns\":%llu,\"events_processed\":%llu,"
                "\"wall_seconds\":%.6f,\"packets_per_wall_second\":%.1f}\n",
                Version::Major(),
                Version::Minor(),
                Version::Patch(),
                Version::BuildProfile().c_str(),
                static_cast<unsigned long long>(sent),
                static_cast<unsigned long long>(received),
                static_cast<unsigned long long>(lost),
                ipSize,
                payload,
                static_cast<unsigned long long>(intervalNs),
                static_cast<unsigned long long>(linkBps),
                static_cast<unsigned long long>(delayNs),
                qdisc.c_str(),
                static_cast<unsigned long long>(simulatedNs),
                static_cast<unsigned long long>(events),
                wall,
                static_cast<double>(sent) / (wall > 1e-9 ? wall : 1e-9));
    if (sent != packets || received != packets)
    {
        std::fprintf(stderr, "ns-3: asked for %llu datagrams, the client sent %llu, the server received %llu\n",
                     static_cast<unsigned long long>(packets),
                     static_cast<unsigned long long>(sent),
                     static_cast<unsigned long long>(received));
        return 1;
    }
    return 0;
}
