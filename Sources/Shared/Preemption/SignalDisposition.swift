#if canImport(Glibc)
import Glibc
#endif

/// A signal disposition as `sigaction` reports it, kept whole so it can be put back exactly.
struct SignalDisposition: @unchecked Sendable {
    // `sigaction` holds a C function pointer in a union; it is plain data, copied whole.
    var action: sigaction

    static var ignore: SignalDisposition {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = SIG_IGN
        sigemptyset(&action.sa_mask)
        return SignalDisposition(action: action)
    }

    static func current(_ signalNumber: Int32) -> SignalDisposition {
        var action = sigaction()
        sigaction(signalNumber, nil, &action)
        return SignalDisposition(action: action)
    }

    func install(_ signalNumber: Int32) {
        var action = self.action
        sigaction(signalNumber, &action, nil)
    }

    var isIgnore: Bool {
        unsafeBitCast(action.__sigaction_handler.sa_handler, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self)
    }
}
