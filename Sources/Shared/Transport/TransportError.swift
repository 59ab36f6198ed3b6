import CZeroMQ
import Core
import Foundation

/// Errors of the transport shell itself: the socket thread is gone, or the system refused an
/// address. Address errors name the address and where it came from, and say what the errno means
/// for someone starting a cluster.
public enum TransportError: GroveError, Equatable {
    case closed
    /// A bind failed: `endpoint` as dialled, `origin` the setting it came from.
    case bind(endpoint: String, origin: String, errno: Int32)
    /// A connect was refused by libzmq before any traffic (a malformed or unresolvable address).
    case connect(endpoint: String, origin: String, errno: Int32)
    /// Settings out of their range, named.
    case settings(String)

    public var code: String {
        switch self {
        case .closed: "transport.closed"
        case .bind: "transport.bind"
        case .connect: "transport.connect"
        case .settings: "transport.settings"
        }
    }

    public var message: String {
        switch self {
        case .closed:
            return "the socket thread has been closed"
        case let .bind(endpoint, origin, errno):
            return "cannot bind \(endpoint.escapedForLog) (\(origin)): \(Self.reason(errno))\(Self.hint(errno))"
        case let .connect(endpoint, origin, errno):
            return "cannot connect to \(endpoint.escapedForLog) (\(origin)): \(Self.reason(errno))"
        case let .settings(text):
            return text
        }
    }

    private static func reason(_ errno: Int32) -> String {
        "\(String(cString: zmq_strerror(errno))) (errno \(errno))"
    }

    private static func hint(_ errno: Int32) -> String {
        switch errno {
        case EADDRINUSE: "; another process already listens on that port"
        case EADDRNOTAVAIL: "; that address is not one of this machine's"
        case EACCES: "; ports below 1024 need privileges"
        default: ""
        }
    }
}
