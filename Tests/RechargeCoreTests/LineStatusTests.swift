import Foundation
import Testing
@testable import RechargeCore

@Suite("LineStatus")
struct LineStatusTests {
    @Test("allowed transitions", arguments: [
        (LineStatus.active, LineStatus.active),
        (.active, .suspended),
        (.active, .terminated),
        (.suspended, .active),
        (.suspended, .suspended),
        (.suspended, .terminated),
        (.terminated, .terminated),
    ])
    func allowed(from: LineStatus, to: LineStatus) throws {
        #expect(try from.transition(to: to, msisdn: sampleMSISDN) == to)
    }

    @Test("terminated is final", arguments: [LineStatus.active, .suspended])
    func terminatedIsFinal(target: LineStatus) {
        #expect(throws: RechargeError.illegalLineTransition(msisdn: "+14155550100", from: .terminated, to: target)) {
            try LineStatus.terminated.transition(to: target, msisdn: sampleMSISDN)
        }
    }

    @Test("all nine pairs")
    func allPairs() {
        var allowedCount = 0
        for from in LineStatus.allCases {
            for to in LineStatus.allCases {
                let legal = from != .terminated || to == .terminated
                do {
                    let result = try from.transition(to: to, msisdn: sampleMSISDN)
                    #expect(legal, "\(from) → \(to) should have been refused")
                    #expect(result == to)
                    allowedCount += 1
                } catch {
                    #expect(!legal, "\(from) → \(to) should have been allowed")
                    #expect(error == .illegalLineTransition(msisdn: sampleMSISDN.e164, from: from, to: to))
                    #expect(error.code == "illegal-line-transition")
                }
            }
        }
        #expect(LineStatus.allCases.count == 3)
        #expect(allowedCount == 7)
    }

    @Test func acceptsTopUpsAndDebits() {
        #expect(LineStatus.active.acceptsTopUps)
        #expect(LineStatus.suspended.acceptsTopUps)
        #expect(!LineStatus.terminated.acceptsTopUps)
        #expect(LineStatus.active.acceptsDebits)
        #expect(!LineStatus.suspended.acceptsDebits)
        #expect(!LineStatus.terminated.acceptsDebits)
    }

    @Test func rawValuesAndCodable() throws {
        #expect(LineStatus.allCases.map(\.rawValue) == ["active", "suspended", "terminated"])
        #expect(LineType.allCases.map(\.rawValue) == ["prepaid", "postpaid"])
        let data = try JSONEncoder().encode([LineStatus.suspended])
        #expect(String(decoding: data, as: UTF8.self) == #"["suspended"]"#)
        #expect(try JSONDecoder().decode([LineStatus].self, from: data) == [.suspended])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(LineStatus.self, from: Data(#""closed""#.utf8)) }
    }

    @Test func lineStatusIsMutable() throws {
        var line = Line(
            id: 1, msisdn: sampleMSISDN, iccid: nil, type: .prepaid, status: .active, currency: usd,
            creditLimit: .zero(usd), subscriberID: nil, createdAt: now
        )
        line.status = try line.status.transition(to: .suspended, msisdn: line.msisdn)
        #expect(line.status == .suspended)
        #expect(!line.status.acceptsDebits)
        line.status = try line.status.transition(to: .terminated, msisdn: line.msisdn)
        #expect(throws: RechargeError.self) { try line.status.transition(to: .active, msisdn: line.msisdn) }
    }
}
