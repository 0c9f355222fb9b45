import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import RechargeCore
import RechargeServer
import RechargeStore
import RechargeTestSupport
import Testing

@Suite("Notification preferences API")
struct NotificationPreferencesAPITests {
    static let path = "/v1/lines/+14155550100/notification-preferences"
    static let subscriber = #", "subscriber": {"name": "Li Wei", "email": "li.wei@example.com", "language": "zh-Hans"}"#

    static func body(sms: Bool = true, email: String? = "wei@example.org", language: String = "en", threshold: String = "2.50", currency: String = "USD") -> String {
        let address = email.map { "\"\($0)\"" } ?? "null"
        return #"{"smsEnabled": \#(sms), "emailEnabled": true, "email": \#(address), "language": "\#(language)", "lowBalanceThreshold": {"currency": "\#(currency)", "value": "\#(threshold)"}}"#
    }

    @Test func defaultsThenReplacedAndOldAndNewAddressesAreTold() async throws {
        try await APIHarness.run { api in
            _ = try await api.openLine(extra: Self.subscriber)
            let defaults = try api.json(try await api.send(.get, Self.path, key: api.writer))
            #expect(defaults["smsEnabled"] as? Bool == true && defaults["emailEnabled"] as? Bool == true)
            #expect(defaults["email"] as? String == "li.wei@example.com")
            #expect(defaults["language"] as? String == "zh-Hans")
            #expect((defaults["lowBalanceThreshold"] as? [String: Any])?["value"] as? String == "5.00")

            let response = try await api.send(.put, Self.path, key: api.writer, json: Self.body(sms: false))
            #expect(response.status == .ok, "\(String(buffer: response.body))")
            let changed = try api.json(response)
            #expect(changed["smsEnabled"] as? Bool == false)
            #expect(changed["email"] as? String == "wei@example.org")
            #expect(changed["language"] as? String == "en")
            #expect((changed["lowBalanceThreshold"] as? [String: Any])?["micros"] as? Int == 2_500_000)
            #expect(try api.json(try await api.send(.get, Self.path, key: api.writer))["email"] as? String == "wei@example.org")

            // The old and the new address are told, once; the same PUT again tells nobody.
            var notices = try await api.services.outbox.list(limit: 100).filter { $0.eventName == "contact_changed" }
            #expect(Set(notices.map(\.recipient)) == ["li.wei@example.com", "wei@example.org"])
            #expect(notices.allSatisfy { $0.channel == .email && $0.language == .english
                && $0.event == .contactChanged(contactChannel: .email, maskedNewValue: "w***i@example.org") })
            try await api.send(.put, Self.path, key: api.writer, json: Self.body(sms: true, threshold: "3.00"))
            notices = try await api.services.outbox.list(limit: 100).filter { $0.eventName == "contact_changed" }
            #expect(notices.count == 2)
            // Back to the subscriber's address (email null): both are told again, under new event keys.
            let back = try api.json(try await api.send(.put, Self.path, key: api.writer, json: Self.body(email: nil)))
            #expect(back["email"] as? String == "li.wei@example.com")
            notices = try await api.services.outbox.list(limit: 100).filter { $0.eventName == "contact_changed" }
            #expect(notices.count == 4)
            #expect(Set(notices.map(\.eventKey)).count == 4)

            // The line's threshold (now 2.50) is what the low-balance alarm uses.
            _ = try await api.topUp("+14155550100", "3.00", key: "t1")
            _ = try await api.send(.post, "/v1/lines/+14155550100/debits", key: api.writer, idempotencyKey: "d1",
                                   json: #"{"amount": {"currency": "USD", "value": "0.40"}, "channel": "network"}"#)
            #expect(try await api.services.outbox.list(limit: 100).filter { $0.eventName == "low_balance" }.isEmpty)   // 2.60 ≥ 2.50
            _ = try await api.send(.post, "/v1/lines/+14155550100/debits", key: api.writer, idempotencyKey: "d2",
                                   json: #"{"amount": {"currency": "USD", "value": "0.20"}, "channel": "network"}"#)
            #expect(try await api.services.outbox.list(limit: 100).filter { $0.eventName == "low_balance" && $0.channel == .email }.count == 1)
        }
    }

    @Test func badInputIsAProblemAndChangesNothing() async throws {
        try await APIHarness.run { api in
            _ = try await api.openLine(extra: Self.subscriber)
            let before = try await api.send(.get, Self.path, key: api.writer)
            func put(_ json: String) async throws -> TestResponse { try await api.send(.put, Self.path, key: api.writer, json: json) }
            try api.expectProblem(try await put(Self.body(email: "not-an-address")), .badRequest, "invalid-request")
            try api.expectProblem(try await put(Self.body(language: "fr")), .badRequest, "invalid-request")
            try api.expectProblem(try await put(Self.body(threshold: "-1.00")), .badRequest, "invalid-amount")
            try api.expectProblem(try await put(Self.body(threshold: "1.0000001")), .badRequest, "invalid-amount")
            try api.expectProblem(try await put(Self.body(currency: "EUR")), .unprocessableContent, "currency-mismatch")
            try api.expectProblem(try await put(Self.body(currency: "XXX")), .badRequest, "unknown-currency")
            try api.expectProblem(try await put(#"{"smsEnabled": true}"#), .badRequest, "malformed-body")
            try api.expectProblem(try await put(#"{"smsEnabled": "yes", "emailEnabled": true, "language": "en", "lowBalanceThreshold": {"currency": "USD", "value": "1"}}"#), .badRequest, "malformed-body")
            try api.expectProblem(try await put(Self.body().replacingOccurrences(of: "\"language\"", with: "\"lang\"")), .badRequest, "malformed-body")
            try api.expectProblem(try await api.send(.put, "/v1/lines/+14155550199/notification-preferences", key: api.writer, json: Self.body()), .notFound, "line-not-found")
            try api.expectProblem(try await api.send(.put, Self.path, key: api.reader, json: Self.body()), .forbidden, "forbidden")
            try api.expectProblem(try await api.send(.get, Self.path, key: api.reader), .forbidden, "forbidden")
            try api.expectProblem(try await api.send(.get, Self.path, key: nil), .unauthorized, "unauthorized")
            let after = try await api.send(.get, Self.path, key: api.writer)
            #expect(String(buffer: after.body) == String(buffer: before.body))
            #expect(try await api.services.outbox.list(limit: 100).isEmpty)
        }
    }
}
