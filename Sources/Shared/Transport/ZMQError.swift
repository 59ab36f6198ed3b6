import CZeroMQ
import Core
import Foundation

/// A failed libzmq call: the function and the errno it left.
public struct ZMQError: GroveError {
    public var errno: Int32
    public var function: String
    public var code: String { "transport.zmq" }
    public var message: String {
        let text = String(cString: zmq_strerror(errno))
        return "\(function) failed: \(text) (errno \(errno))"
    }

    public init(errno: Int32, function: String) {
        self.errno = errno
        self.function = function
    }
}

/// Runs one libzmq call: retries `EINTR`, returns nil for `EAGAIN` (the caller decides whether to
/// wait), and throws anything else with the function's name.
@discardableResult
func zmqCall(_ function: String = #function, _ body: () -> Int32) throws(ZMQError) -> Int32? {
    while true {
        let rc = body()
        if rc != -1 { return rc }
        switch zmq_errno() {
        case EINTR: continue
        case EAGAIN: return nil
        case let err: throw ZMQError(errno: err, function: function)
        }
    }
}
