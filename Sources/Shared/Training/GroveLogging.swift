import Foundation
import Logging

/// Logging for Grove's executables: swift-log to standard error, one line per event with the
/// event's metadata.
public enum GroveLogging {
    /// Installs the handler once per process and returns a logger for `label`.
    public static func bootstrap(label: String, level: String) -> Logger {
        let parsed = Logger.Level(rawValue: level) ?? .info
        once.update { done in
            if !done {
                LoggingSystem.bootstrap { label in
                    var handler = StreamLogHandler.standardError(label: label)
                    handler.logLevel = parsed
                    return handler
                }
                done = true
            }
        }
        var logger = Logger(label: label)
        logger.logLevel = parsed
        return logger
    }

    private static let once = LockedFlag()
}

private final class LockedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var done = false
    func update(_ body: (inout Bool) -> Void) {
        lock.lock()
        body(&done)
        lock.unlock()
    }
}
