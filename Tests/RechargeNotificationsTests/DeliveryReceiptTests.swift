import Foundation
import RechargeCore
import RechargeMessaging
import RechargeStore
import RechargeTestSupport
import Testing

@testable import RechargeNotifications

/// Receipt texts as an SMSC sends them in deliver_sm, through the SMPP transport's receipt handling into the
/// outbox: delivered sets `delivered_at`, every final failure state makes the message dead with that state.
@Suite("SMPP delivery receipts into the outbox", .serialized)
struct DeliveryReceiptTests {
    static let now = TestDatabase.epoch

    static func receipt(_ id: String, _ stat: String, err: String = "000") throws -> SMPPDeliveryReceipt {
        try #require(SMPPDeliveryReceipt.parse(
            text: "id:\(id) sub:001 dlvrd:000 submit date:2611271200 done date:2611271201 stat:\(stat) err:\(err) text:Recharge: top-up"))
    }

    @Test(arguments: [Backend.sqlite] + (TestDatabase.postgresAvailable ? [Backend.postgres] : []))
    func everyFinalStateIsRecorded(backend: Backend) async throws {
        try await TestDatabase.with(backend) { database in
            let outbox = OutboxStore(database: database)
            let words = ["DELIVRD", "UNDELIV", "REJECTD", "EXPIRED", "DELETED", "UNKNOWN", "ENROUTE", "ACCEPTD"]
            try await outbox.enqueue(try words.map { word in
                try OutgoingNotification(eventKey: "e-\(word)", channel: .sms, recipient: "+14155550100", language: .english,
                                         event: .oneTimeCode(code: "1", validMinutes: 1))
            }, now: Self.now)
            for message in try await outbox.claim(limit: 100, now: Self.now, lease: .seconds(60)) {
                try await outbox.markSent(message, providerID: "m-\(message.eventKey.dropFirst(2))", now: Self.now)
            }
            for word in words {
                let recorded = try await SMPPTransport.record(try Self.receipt("m-\(word)", word, err: word == "DELIVRD" ? "000" : "011"), outbox: outbox, now: Self.now.addingTimeInterval(5))
                #expect(recorded == (["ENROUTE", "ACCEPTD"].contains(word) ? nil : SMPPMessageState(receiptWord: word)), "\(word)")
            }
            let byKey = Dictionary(uniqueKeysWithValues: try await outbox.list(limit: 100).map { ($0.eventKey, $0) })
            #expect(byKey["e-DELIVRD"]?.state == .sent && byKey["e-DELIVRD"]?.deliveredAt == Self.now.addingTimeInterval(5))
            for word in ["UNDELIV", "REJECTD", "EXPIRED", "DELETED", "UNKNOWN"] {
                #expect(byKey["e-\(word)"]?.state == .dead, "\(word)")
                #expect(byKey["e-\(word)"]?.lastError == "delivery receipt: stat:\(word) err:011")
                #expect(byKey["e-\(word)"]?.deliveredAt == nil)
            }
            for word in ["ENROUTE", "ACCEPTD"] {
                #expect(byKey["e-\(word)"]?.state == .sent && byKey["e-\(word)"]?.deliveredAt == nil && byKey["e-\(word)"]?.lastError == nil)
            }
        }
    }
}
