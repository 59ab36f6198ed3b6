import Core
import Foundation
import Testing
@testable import Preemption

/// The poll loop with a real client and a mock server: failures are reported and polling goes on.
@Suite struct PollingWatcherTests {
    func gceWatcher(_ endpoint: String, recorder: Recorder, timeout: Duration = .seconds(5)) throws -> PollingWatcher {
        let probe = GCEPreemptedProbe(endpoint: try MetadataEndpoint(endpoint, origin: "test"), client: SocketHTTPClient(), timeout: timeout)
        return PollingWatcher(probe: probe, interval: .milliseconds(10),
                              onNotice: { recorder.notice($0) }, onProblem: { _, error in recorder.problem(error) })
    }

    @Test func malformedAnswersAreReportedAndPollingGoesOn() throws {
        let value = Locked("garbage")
        let server = try GCEPreemptedProbeTests.server(value)
        defer { server.stop() }
        let recorder = Recorder()
        let watcher = try gceWatcher(server.endpoint, recorder: recorder)
        watcher.start()
        defer { watcher.stop() }
        #expect(eventually { recorder.problemList.count >= 3 })
        #expect(recorder.noticeList.isEmpty)
        #expect(recorder.problemList.allSatisfy { $0.code == "preempt.malformed" })
        value.value = "TRUE"
        #expect(eventually { !watcher.isRunning }, "the loop ends after its notice")
        #expect(recorder.noticeList.count == 1)
        #expect(recorder.noticeList.first?.source == .gcp)
        let polls = watcher.polls
        #expect(server.requests.count == polls)
    }

    @Test func serverDownKeepsPollingUntilStopped() throws {
        let gone = try MockMetadataServer { _ in .hangUp }
        let endpoint = gone.endpoint
        gone.stop()
        let recorder = Recorder()
        let watcher = try gceWatcher(endpoint, recorder: recorder)
        watcher.start()
        #expect(eventually { recorder.problemList.count >= 5 })
        #expect(watcher.isRunning)
        #expect(recorder.problemList.allSatisfy { $0.code == "preempt.connect" })
        watcher.stop()
        #expect(!watcher.isRunning)
        let polls = watcher.polls
        usleep(50_000)
        #expect(watcher.polls == polls, "no poll after stop() returned")
    }

    @Test func hungServerIsATimeoutAndStopStillReturns() throws {
        let server = try MockMetadataServer { _ in .silent }
        let recorder = Recorder()
        let watcher = try gceWatcher(server.endpoint, recorder: recorder, timeout: .milliseconds(100))
        watcher.start()
        #expect(eventually { !recorder.problemList.isEmpty })
        #expect(recorder.problemList.first?.code == "preempt.timeout")
        watcher.stop()
        #expect(!watcher.isRunning)
        server.stop()
    }

    @Test func stopFromTheNoticeCallbackDoesNotDeadlock() throws {
        let server = try GCEPreemptedProbeTests.server(Locked("TRUE"))
        defer { server.stop() }
        let box = Locked<PollingWatcher?>(nil)
        let stopped = Locked(false)
        let probe = GCEPreemptedProbe(endpoint: try MetadataEndpoint(server.endpoint, origin: "test"), client: SocketHTTPClient(), timeout: .seconds(5))
        let watcher = PollingWatcher(probe: probe, interval: .milliseconds(10), onNotice: { _ in
            box.value?.stop()
            stopped.value = true
        }, onProblem: { _, _ in })
        box.value = watcher
        watcher.start()
        #expect(eventually { stopped.value && !watcher.isRunning })
        box.value = nil
    }

    @Test func stopIsBoundedAndNothingIsDeliveredAfterIt() throws {
        let server = try MockMetadataServer { _ in .silent }
        let recorder = Recorder()
        let probe = GCEPreemptedProbe(endpoint: try MetadataEndpoint(server.endpoint, origin: "test"), client: SocketHTTPClient(),
                                      timeout: .seconds(60))
        let watcher = PollingWatcher(probe: probe, interval: .milliseconds(10), stopWait: .milliseconds(50),
                                     onNotice: { recorder.notice($0) }, onProblem: { _, error in recorder.problem(error) })
        watcher.start()
        #expect(eventually { server.requests.count == 1 })
        watcher.stop()  // returns after 50 ms although the request would wait a minute
        server.stop()   // the request now fails with a closed connection
        #expect(eventually { !watcher.isRunning })
        #expect(recorder.problemList.isEmpty, "the failure came after stop() and is not reported")
    }
}
