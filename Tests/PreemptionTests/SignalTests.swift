import Core
import Foundation
import Testing
@testable import Preemption
#if canImport(Glibc)
import Glibc
#endif

/// Pure signal semantics, then real signals sent to this test process by a spawned /bin/sh.
///
/// Real-signal tests only send after `start()` has returned, when SIGTERM and SIGINT are already
/// ignored by the process; a signal that went astray is then dropped instead of killing the test
/// runner. They run one at a time because signal dispositions are process-wide.
@Suite(.serialized) struct SignalTests {
    @Test func firstTermDrainsSecondStops() {
        var drain = SignalDrain(grace: .seconds(30))
        let now = ContinuousClock.now
        guard case .drain(let notice)? = drain.onSignal(SIGTERM, now: now) else {
            Issue.record("the first SIGTERM must start a drain")
            return
        }
        #expect(notice.source == .signal)
        #expect(notice.deadline == now + .seconds(30))
        #expect(drain.draining && !drain.stopped)
        #expect(drain.onSignal(SIGTERM, now: now) == .stopNow("a second SIGTERM arrived while draining"))
        #expect(drain.onSignal(SIGTERM, now: now) == nil)
        #expect(drain.onSignal(SIGINT, now: now) == nil)
    }

    @Test func interruptStopsAtOnce() {
        var drain = SignalDrain()
        #expect(drain.onSignal(SIGINT, now: .now) == .stopNow("signal SIGINT received"))
        #expect(drain.onSignal(SIGTERM, now: .now) == nil, "no drain after stop-now")
    }

    /// Sends `signal` to this process from a separate shell and waits for the shell to exit.
    func sendFromShell(_ name: String) throws {
        let shell = Process()
        shell.executableURL = URL(fileURLWithPath: "/bin/sh")
        shell.arguments = ["-c", "kill -\(name) \(getpid())"]
        try shell.run()
        shell.waitUntilExit()
        #expect(shell.terminationStatus == 0)
    }

    @Test func realSigtermDrainsThenStops() throws {
        let recorder = Recorder()
        let watcher = SignalWatcher(grace: .seconds(12)) { recorder.event($0) }
        try watcher.start()
        defer { watcher.stop() }
        let before = ContinuousClock.now
        try sendFromShell("TERM")
        #expect(eventually { recorder.eventList.count == 1 })
        guard case .drain(let notice)? = recorder.eventList.first else {
            Issue.record("expected a drain, got \(recorder.eventList)")
            return
        }
        #expect(notice.source == .signal)
        #expect(notice.deadline >= before + .seconds(12))
        #expect(notice.deadline <= ContinuousClock.now + .seconds(12))
        try sendFromShell("TERM")
        #expect(eventually { recorder.eventList.count == 2 })
        #expect(recorder.eventList.last == .stopNow("a second SIGTERM arrived while draining"))
        #expect(watcher.current.stopped)
    }

    @Test func onlyOneWatcherAtATime() throws {
        let first = SignalWatcher { _ in }
        try first.start()
        let second = SignalWatcher { _ in }
        let error = #expect(throws: PreemptionError.self) { try second.start() }
        #expect(error?.code == "preempt.signal")
        first.stop()
        try second.start()
        second.stop()
    }

    @Test func monitorTurnsSigintIntoStopNow() throws {
        var settings = PreemptionSettings()
        settings.signals = true
        let monitor = PreemptionMonitor(settings: settings)
        try monitor.start()
        defer { monitor.stop() }
        try sendFromShell("INT")
        #expect(monitor.next(until: .now + .seconds(10)) == .stopNow("signal SIGINT received"))
        #expect(monitor.stopRequested)
        #expect(monitor.notice == nil)
    }

    @Test func callbackMayStopTheMonitor() throws {
        let stopped = Locked(false)
        let box = Locked<PreemptionMonitor?>(nil)
        let monitor = PreemptionMonitor(settings: PreemptionSettings()) { event in
            guard case .stopNow = event else { return }
            box.value?.stop()
            stopped.value = true
        }
        box.value = monitor
        try monitor.start()
        #expect(throws: PreemptionError.self) { try monitor.start() }
        try sendFromShell("INT")
        #expect(eventually { stopped.value })
        #expect(monitor.next(until: .now + .seconds(10)) == .stopNow("signal SIGINT received"))
        #expect(monitor.next(until: .now + .seconds(10)) == nil, "closed by stop()")
        box.value = nil
        // The watcher is gone: a new one can take the signals.
        let again = SignalWatcher { _ in }
        try again.start()
        again.stop()
    }
}
