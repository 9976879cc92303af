package snippets;

import dev.keepalive.KeepaliveSettings;
import reactor.netty.tcp.TcpClient;
import reactor.netty.tcp.TcpServer;

/** Opens the package-private snippet to the tests. */
public final class ReactorNettyKeepaliveAccess {
    private ReactorNettyKeepaliveAccess() {
    }

    public static TcpServer server(KeepaliveSettings settings) {
        return ReactorNettyKeepalive.server(settings);
    }

    public static TcpClient client(KeepaliveSettings settings) {
        return ReactorNettyKeepalive.client(settings);
    }
}
