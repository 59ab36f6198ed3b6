import Foundation
import Testing
@testable import Observability

@Suite struct StatusFileTests {
    @Test func theLiveServersAddressIsInTheRunDirectoryUntilTheRunFinishes() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        var settings = RunObserver.Settings()
        settings.statusPort = 0
        settings.progress = false
        settings.tensorBoard = false
        settings.trace = false
        let observer = try RunObserver(run: "status-file", directory: scratch.path, totalSteps: 3, settings: settings)
        let contents = try #require(try StatusFile(directory: scratch.path).read())
        #expect(contents.url == observer.statusURL)
        #expect(contents.pid == getpid())
        #expect(contents.run == "status-file")
        try observer.finish(phase: .finished, metricsPath: nil)
        #expect(try StatusFile(directory: scratch.path).read() == nil)
    }

    @Test func aResumedRunWritesItsTimelineBesideTheEarlierOnes() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        var settings = RunObserver.Settings()
        settings.progress = false
        settings.tensorBoard = false
        var texts: [String] = []
        for invocation in 1...3 {
            let observer = try RunObserver(run: "resumed", directory: scratch.path, totalSteps: 3, settings: settings)
            observer.trace.marker(name: "invocation \(invocation)", track: .coordinator)
            try observer.finish(phase: .finished, metricsPath: nil)
            texts.append(try String(contentsOfFile: observer.tracePath, encoding: .utf8))
        }
        #expect(try String(contentsOfFile: scratch.path + "/trace.json", encoding: .utf8).contains("invocation 1"))
        #expect(try String(contentsOfFile: scratch.path + "/trace-2.json", encoding: .utf8).contains("invocation 2"))
        #expect(try String(contentsOfFile: scratch.path + "/trace-3.json", encoding: .utf8).contains("invocation 3"))
        #expect(!texts[0].contains("invocation 2"))
    }
}
