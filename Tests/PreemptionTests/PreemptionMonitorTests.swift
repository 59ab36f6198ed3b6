import Core
import Foundation
import Testing
@testable import Preemption

/// The monitor with cloud sources on mock servers (signals off; see SignalTests for those).
@Suite struct PreemptionMonitorTests {
    func settings(aws: String = "", gcp: String = "", azure: String = "") -> PreemptionSettings {
        var settings = PreemptionSettings()
        settings.aws = aws
        settings.gcp = gcp
        settings.azure = azure
        settings.signals = false
        settings.pollInterval = .milliseconds(10)
        settings.azureResourceName = "vm-1"
        return settings
    }

    @Test func firstNoticeIsDeliveredOnceFromAnySource() throws {
        let gce = try GCEPreemptedProbeTests.server(Locked("TRUE"))
        let azure = try AzureScheduledEventsProbeTests.server(
            Locked(AzureScheduledEventsProbeTests.document(AzureScheduledEventsProbeTests.event(notBefore: ""))))
        defer { gce.stop(); azure.stop() }
        let recorder = Recorder()
        let monitor = PreemptionMonitor(settings: settings(gcp: gce.endpoint, azure: azure.endpoint), onEvent: { recorder.event($0) })
        try monitor.start()
        defer { monitor.stop() }
        guard case .drain(let notice)? = monitor.next(until: .now + .seconds(10)) else {
            Issue.record("no drain delivered")
            return
        }
        #expect([.gcp, .azure].contains(notice.source))
        #expect(monitor.notice == notice)
        #expect(monitor.next(until: .now + .milliseconds(200)) == nil, "the other source's notice is a duplicate")
        #expect(recorder.eventList == [.drain(notice)])
        #expect(!monitor.stopRequested)
    }

    @Test func quietSourcesDeliverNothingAndStopUnblocks() throws {
        let gce = try GCEPreemptedProbeTests.server(Locked("FALSE"))
        defer { gce.stop() }
        let monitor = PreemptionMonitor(settings: settings(gcp: gce.endpoint))
        try monitor.start()
        #expect(eventually { gce.requests.count >= 3 })
        #expect(monitor.notice == nil)
        monitor.stop()
        let polled = gce.requests.count
        #expect(monitor.next(until: .now + .seconds(10)) == nil)
        #expect(gce.requests.count == polled)
    }

    @Test func problemsReachTheCallback() throws {
        let gone = try MockMetadataServer { _ in .hangUp }
        let endpoint = gone.endpoint
        gone.stop()
        let sources = Locked<[PreemptionNotice.Source]>([])
        let monitor = PreemptionMonitor(settings: settings(aws: endpoint), onProblem: { source, _ in sources.update { $0.append(source) } })
        try monitor.start()
        defer { monitor.stop() }
        #expect(eventually { sources.value.count >= 2 })
        #expect(sources.value.allSatisfy { $0 == .aws })
    }

    @Test func azureNoticeCanBeAcknowledged() throws {
        let azure = try AzureScheduledEventsProbeTests.server(
            Locked(AzureScheduledEventsProbeTests.document(AzureScheduledEventsProbeTests.event(id: "EV-42"))))
        defer { azure.stop() }
        let monitor = PreemptionMonitor(settings: settings(azure: azure.endpoint))
        try monitor.start()
        defer { monitor.stop() }
        guard case .drain(let notice)? = monitor.next(until: .now + .seconds(10)) else {
            Issue.record("no drain delivered")
            return
        }
        #expect(notice.eventID == "EV-42")
        #expect(azure.requests.allSatisfy { $0.method == "GET" }, "nothing is acknowledged before the worker asks")
        try monitor.acknowledge(notice)
        let post = try #require(azure.requests.last)
        #expect(post.method == "POST")
        #expect(post.text.contains("EV-42"))
    }

    @Test func badSettingsNameTheValue() {
        var bad = settings(aws: "https://169.254.169.254")
        var error = #expect(throws: PreemptionError.self) { try bad.validate() }
        #expect(error?.message.contains("https://169.254.169.254") == true)
        #expect(error?.message.contains("'aws'") == true)
        bad = settings()
        bad.pollInterval = .zero
        error = #expect(throws: PreemptionError.self) { try PreemptionMonitor(settings: bad).start() }
        #expect(error?.code == "preempt.settings")
        bad = settings()
        bad.gcpLongPoll = .seconds(-1)
        #expect(throws: PreemptionError.self) { try bad.validate() }
    }

    @Test func defaultsAreOffAndDocumented() throws {
        let defaults = PreemptionSettings()
        #expect(defaults.aws.isEmpty && defaults.gcp.isEmpty && defaults.azure.isEmpty)
        #expect(defaults.pollInterval == .seconds(5))
        #expect(defaults.grace == .seconds(30))
        #expect(try defaults.endpoints().isEmpty)
        #expect(PreemptionExit.code == 75)
    }

    @Test func latchPassesOneDrainAndOneStop() {
        var latch = PreemptionLatch()
        let a = PreemptionNotice(source: .aws, secondsFromNow: 120, detail: "a")
        let b = PreemptionNotice(source: .signal, secondsFromNow: 30, detail: "b")
        #expect(latch.on(.drain(a)) == .drain(a))
        #expect(latch.on(.drain(b)) == nil)
        #expect(latch.on(.stopNow("x")) == .stopNow("x"))
        #expect(latch.on(.stopNow("y")) == nil)
        var stopped = PreemptionLatch()
        #expect(stopped.on(.stopNow("x")) != nil)
        #expect(stopped.on(.drain(a)) == nil)
        #expect(latch.notice == a)
    }
}
