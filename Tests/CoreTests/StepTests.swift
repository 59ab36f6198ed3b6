import Foundation
import Testing
import Core

@Suite struct StepTests {
    @Test func ordinalAndIndexNameTheSameStep() {
        #expect(Step.first.ordinal == 1 && Step.first.index == 0)
        #expect(Step(ordinal: 7).index == 6)
        #expect(Step(index: 6) == Step(ordinal: 7))
        #expect(Step(after: 0) == .first, "the step after no commits is the first")
        #expect(Step(after: 3) == Step(ordinal: 4))
        #expect(Step(ordinal: 4).wire == 4, "the wire carries the ordinal")
    }

    @Test func nextAndPrevious() {
        #expect(Step.first.next == Step(ordinal: 2))
        #expect(Step(ordinal: 2).previous == .first)
        #expect(Step.first.previous == nil)
        #expect(Step(ordinal: 9).next.previous == Step(ordinal: 9))
    }

    @Test func ordersByOrdinalAndPrintsIt() {
        #expect(Step(ordinal: 2) < Step(ordinal: 10))
        #expect([Step(ordinal: 3), .first, Step(ordinal: 2)].sorted() == [.first, Step(ordinal: 2), Step(ordinal: 3)])
        #expect("\(Step(ordinal: 12))" == "12")
    }

    @Test func fromTheWire() {
        #expect(Step(wire: 5) == Step(ordinal: 5))
        #expect(Step(wire: 0) == nil, "0 names no step")
        #expect(Step(wire: UInt64(Int.max)) == Step(ordinal: Int.max))
        #expect(Step(wire: UInt64(Int.max) + 1) == nil)
    }

    @Test func codesAsABareOrdinal() throws {
        let data = try JSONEncoder().encode(["step": Step(ordinal: 3)])
        #expect(String(decoding: data, as: UTF8.self) == #"{"step":3}"#)
        #expect(try JSONDecoder().decode([String: Step].self, from: Data(#"{"step":3}"#.utf8)) == ["step": Step(ordinal: 3)])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([String: Step].self, from: Data(#"{"step":0}"#.utf8)) }
    }
}
