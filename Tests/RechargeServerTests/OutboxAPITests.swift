import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import RechargeCore
import RechargeServer
import RechargeStore
import Testing

@Suite("Outbox routes")
struct OutboxAPITests {
    @Test func topUpAppearsInTheOutboxForAdminsOnly() async throws {
        try await APIHarness.run { api in
            #expect(try await api.openLine(extra: #", "subscriber": {"email": "li@example.com", "language": "zh-Hans"}"#).status == .created)
            #expect(try await api.topUp("+14155550100", "20.00", key: "order-1").status == .created)
            #expect(try await api.topUp("+14155550100", "20.00", key: "order-1").status == .created)   // a replay queues nothing

            let response = try await api.send(.get, "/v1/outbox", key: api.admin)
            #expect(response.status == .ok)
            let items = try #require(try api.json(response)["items"] as? [[String: Any]])
            #expect(items.count == 2)
            #expect(Set(items.compactMap { $0["channel"] as? String }) == ["sms", "email"])
            #expect(items.allSatisfy { $0["eventKey"] as? String == "op:order-1:top_up_applied" && $0["state"] as? String == "pending" })
            let sms = try #require(items.first { $0["channel"] as? String == "sms" })
            #expect(sms["text"] as? String == "【Recharge】您通过银行卡充值20.00 美元已到账，当前余额20.00 美元。感谢使用！")

            let filtered = try api.json(try await api.send(.get, "/v1/outbox?state=dead", key: api.admin))
            #expect((filtered["items"] as? [Any])?.isEmpty == true)
            try api.expectProblem(try await api.send(.get, "/v1/outbox?state=lost", key: api.admin), .badRequest, "invalid-request")
            try api.expectProblem(try await api.send(.get, "/v1/outbox?state=", key: api.admin), .badRequest, "invalid-request")
            try api.expectProblem(try await api.send(.get, "/v1/outbox?limit=0", key: api.admin), .badRequest, "invalid-request")
            try api.expectProblem(try await api.send(.get, "/dev/outbox?state=SENT", key: api.admin), .badRequest, "invalid-request")
            try api.expectProblem(try await api.send(.get, "/v1/outbox", key: api.writer), .forbidden, "forbidden")
            try api.expectProblem(try await api.send(.get, "/v1/outbox", key: nil), .unauthorized, "unauthorized")

            let page = try await api.send(.get, "/dev/outbox", key: api.admin)
            #expect(page.status == .ok)
            #expect(page.headers[.contentType] == "text/html; charset=utf-8")
            let html = String(buffer: page.body)
            #expect(html.contains("<h1>Outbox</h1>"))
            #expect(html.contains("您通过银行卡充值20.00 美元已到账"))
            #expect(html.contains("li@example.com") && html.contains("op:order-1:top_up_applied"))
            try api.expectProblem(try await api.send(.get, "/dev/outbox", key: api.reader), .forbidden, "forbidden")
            try api.expectProblem(try await api.send(.get, "/dev/outbox", key: nil), .unauthorized, "unauthorized")
        }
    }

    /// An admin key reads the outbox, and a one-time code there would let it into any subscriber's portal account:
    /// the API and the `/dev` page show the message with the code masked (and the stored payload holds it sealed).
    @Test func oneTimeCodesAreMasked() async throws {
        try await APIHarness.run { api in
            let issued = try await api.services.accounts.issueCode(purpose: .register, target: "+14155550100", accountID: nil,
                                                                   language: .english, now: APIHarness.now)
            let items = try #require(try api.json(try await api.send(.get, "/v1/outbox", key: api.admin))["items"] as? [[String: Any]])
            let text = try #require(items.first { $0["event"] as? String == "one_time_code" }?["text"] as? String)
            #expect(!text.contains(issued.code) && text.contains("••••••"), "\(text)")
            let html = String(buffer: try await api.send(.get, "/dev/outbox", key: api.admin).body)
            #expect(html.contains("one_time_code") && !html.contains(issued.code))
        }
    }

    /// `/dev` exists only with `--demo` or `--dev-pages`: a production start answers 404, admin key or not.
    @Test func devPagesAreOffUnlessAskedFor() async throws {
        try await APIHarness.run(devPages: false) { api in
            let dev = try await api.send(.get, "/dev/outbox", key: api.admin)
            let outbox = try await api.send(.get, "/v1/outbox", key: api.admin)
            #expect(dev.status == .notFound && outbox.status == .ok)
        }
    }

    /// An SMS the SMSC reported undeliverable is listed as dead with the receipt's state.
    @Test func failedDeliveryReceiptShowsAsDead() async throws {
        try await APIHarness.run { api in
            #expect(try await api.openLine().status == .created)
            #expect(try await api.topUp("+14155550100", "20.00", key: "order-1").status == .created)
            let outbox = api.services.outbox
            let claimed = try #require(try await outbox.claim(limit: 10, now: APIHarness.now, lease: .seconds(60)).first)
            try await outbox.markSent(claimed, providerID: "smsc-1", now: APIHarness.now)
            #expect(try await outbox.recordReceiptFailure(providerID: "smsc-1", failure: "delivery receipt: stat:UNDELIV err:001", now: APIHarness.now))
            let items = try #require(try api.json(try await api.send(.get, "/v1/outbox?state=dead", key: api.admin))["items"] as? [[String: Any]])
            #expect(items.count == 1)
            #expect(items.first?["lastError"] as? String == "delivery receipt: stat:UNDELIV err:001")
            #expect(items.first?["providerId"] as? String == "smsc-1" && items.first?["channel"] as? String == "sms")
        }
    }
}
