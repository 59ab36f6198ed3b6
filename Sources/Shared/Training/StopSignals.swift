import Core
import Dispatch
import Foundation

/// SIGTERM and SIGINT for the coordinator: the first one asks for a stop (finish or abandon the
/// step in flight, checkpoint the last commit, tell the workers, write the summary); a second one
/// runs `onSecond` (stop at once).
///
/// Signals are read through dispatch signal sources, so no Grove code runs in a signal handler.
/// The sources live as long as this object: a released source silently stops seeing signals.
public final class StopSignals: @unchecked Sendable {
    /// Signals received so far, and the name of the first.
    private let received = Locked<(count: Int, first: String?)>((0, nil))
    private let queue = DispatchQueue(label: "grove.coordinator.signals")
    // Touched only by init and deinit.
    private var sources: [any DispatchSourceSignal] = []

    public init(onSecond: @escaping @Sendable (String) -> Void) {
        for (number, name) in [(SIGTERM, "SIGTERM"), (SIGINT, "SIGINT")] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            let received = self.received
            nonisolated(unsafe) let counted = source
            source.setEventHandler { @Sendable in
                for _ in 0..<max(1, Int(counted.data)) {
                    let count = received.update { state -> Int in
                        state.count += 1
                        if state.first == nil { state.first = name }
                        return state.count
                    }
                    if count == 2 { onSecond(name) }
                }
            }
            source.resume()
            sources.append(source)
        }
    }

    /// The first signal's name, once one has arrived.
    public var stopRequested: String? { received.value.first }

    deinit {
        for source in sources { source.cancel() }
        signal(SIGTERM, SIG_DFL)
        signal(SIGINT, SIG_DFL)
    }
}
