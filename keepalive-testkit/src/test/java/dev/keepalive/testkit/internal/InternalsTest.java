package dev.keepalive.testkit.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.keepalive.testkit.ConntrackEntry;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Parsing and naming, no kernel needed. */
class InternalsTest {
    @Test
    void parsesProcAndToolFormats() {
        String proc = "ipv4     2 tcp      6 4 ESTABLISHED src=10.247.0.1 dst=10.247.0.2 sport=54974 dport=7000 "
                + "src=10.247.0.2 dst=10.247.0.1 sport=7000 dport=54974 [ASSURED] mark=0 zone=0 use=2\n"
                + "ipv4     2 udp      17 25 src=10.247.0.1 dst=10.247.0.2 sport=5353 dport=53 [UNREPLIED] "
                + "src=10.247.0.2 dst=10.247.0.1 sport=53 dport=5353 mark=0 zone=0 use=2\n"
                + "garbage\n";
        List<ConntrackEntry> entries = ConntrackParser.parseAll(proc);
        assertEquals(2, entries.size());
        ConntrackEntry tcp = entries.get(0);
        assertEquals(new ConntrackEntry("tcp", 4, "ESTABLISHED", new InetSocketAddress("10.247.0.1", 54974),
                new InetSocketAddress("10.247.0.2", 7000), true), tcp);
        assertEquals("", entries.get(1).state());
        assertFalse(entries.get(1).assured());

        String tool = "tcp      6 431999 SYN_SENT src=10.0.0.1 dst=10.0.0.2 sport=1 dport=2 [UNREPLIED] "
                + "src=10.0.0.2 dst=10.0.0.1 sport=2 dport=1 mark=0 use=1";
        ConntrackEntry e = ConntrackParser.parse(tool).orElseThrow();
        assertEquals(431999, e.secondsLeft());
        assertEquals("SYN_SENT", e.state());
        assertEquals(2, e.destination().getPort());
        assertEquals(Optional.empty(), ConntrackParser.parse("tcp 6 x ESTABLISHED src=host.example dst=1.2.3.4"));
    }

    @Test
    void namesEncodeTheOwnerAndFitInterfaceNameLimits() {
        assertEquals("kalab-4194304-7", LabNames.namespace(4_194_304, 7));
        assertEquals(Optional.of(4_194_304L), LabNames.namespaceOwner("kalab-4194304-7"));
        assertEquals(Optional.empty(), LabNames.namespaceOwner("kalab-x-1"));
        String longest = LabNames.hostLink(9_999_999, LabNames.MAX_LAB_NUMBER);
        assertTrue(longest.length() <= 15, longest);
        assertEquals(Optional.of(12L), LabNames.linkOwner(LabNames.peerLink(12, 3)));
        assertEquals(Optional.empty(), LabNames.linkOwner("eth0"));
    }

    @Test
    void subnetAddressesAreTheFirstAndSecondHostOfA30() {
        assertEquals("10.247.0.1", LabSubnets.address(0, 1).getHostAddress());
        assertEquals("10.247.0.2", LabSubnets.address(0, 2).getHostAddress());
        assertEquals("10.247.1.5", LabSubnets.address(65, 1).getHostAddress());
        assertEquals("10.247.255.254", LabSubnets.address(LabSubnets.SUBNETS - 1, 2).getHostAddress());
    }
}
