import Core
import Foundation

/// Ends a local worker when the coordinator that started it is gone.
///
/// The coordinator passes its pid in `GROVE_PARENT_PID`; a thread here compares it with
/// `getppid()` every `interval` and exits the process once they differ (the parent died and the
/// worker was re-parented), also when they already differ at start (the parent died before the
/// worker got here). Without this, a coordinator killed with SIGKILL left its workers running,
/// and retrying forever. (`prctl(PR_SET_PDEATHSIG)` would do it in the kernel, but it is a
/// variadic C function Swift cannot call, and `posix_spawn` cannot set it in the child.)
public enum ParentWatch {
    public static let environmentKey = "GROVE_PARENT_PID"
    /// The exit code of a worker whose coordinator died.
    public static let exitCode: Int32 = 4

    /// Starts the watch if `GROVE_PARENT_PID` is set; returns whether it did.
    @discardableResult
    public static func startIfRequested(interval: Duration = .milliseconds(200),
                                        onGone: @escaping @Sendable (Int32) -> Void = { _ in }) -> Bool {
        guard let text = ProcessInfo.processInfo.environment[environmentKey], let parent = Int32(text) else { return false }
        let thread = Thread {
            while getppid() == parent { Thread.sleep(forTimeInterval: interval.inSeconds) }
            onGone(parent)
            // At once: nothing this worker holds is worth waiting for without its coordinator.
            _exit(exitCode)
        }
        thread.name = "grove-parent-watch"
        thread.start()
        return true
    }
}
