import Foundation
import HTTPTypes
import HummingbirdTesting
import RechargeServer
import Testing

@Suite("Lines API")
struct LinesAPITests {
    @Test func walkthroughOpenTopUpBalanceHistory() async throws {
        try await APIHarness.run { api in
            let opened = try await api.openLine("(415) 555-0100", extra: #", "iccid": "8901260123456789011", "subscriber": {"name": "王芳", "language": "zh-Hans"}"#)
            #expect(opened.status == .created)
            #expect(opened.headers[.location] == "/v1/lines/+14155550100")
            let line = try api.json(opened)
            #expect(line["msisdn"] as? String == "+14155550100" && line["status"] as? String == "active" && line["type"] as? String == "prepaid")

            let first = try await api.topUp("+14155550100", "10.00", key: "walk-1")
            #expect(first.status == .created && first.headers[HTTPField.Name("Idempotent-Replayed")!] == nil)
            let operation = try api.json(first)
            #expect(operation["type"] as? String == "top_up")
            let entries = try #require(operation["entries"] as? [[String: Any]])
            #expect(entries.first?["amountValue"] as? String == "10.00" && entries.first?["remainingAfter"] as? Int == 10_000_000)

            let retry = try await api.topUp("%2B14155550100", "10.00", key: "walk-1")
            #expect(retry.status == .created && retry.headers[HTTPField.Name("Idempotent-Replayed")!] == "true")
            #expect(try api.json(retry)["id"] as? Int == operation["id"] as? Int)

            let grant = try await api.send(.post, "/v1/lines/+14155550100/topups", key: api.writer, idempotencyKey: "walk-2",
                                           json: #"{"bucket": {"kind": "data", "amount": 1073741824, "name": "1 GB", "validForDays": 30}, "channel": "admin"}"#)
            #expect(grant.status == .created)
            let debit = try await api.send(.post, "/v1/lines/+14155550100/debits", key: api.writer, idempotencyKey: "walk-3",
                                           json: #"{"amount": {"currency": "USD", "value": "2.50"}, "reference": "call-1"}"#)
            #expect(debit.status == .created)
            let usage = try await api.send(.post, "/v1/lines/+14155550100/debits", key: api.writer, idempotencyKey: "walk-4",
                                           json: #"{"usage": {"kind": "data", "amount": 1048576}}"#)
            #expect(usage.status == .created)

            let balance = try api.json(try await api.send(.get, "/v1/lines/+14155550100/balance", key: api.reader))
            let totals = try #require(balance["totals"] as? [[String: Any]])
            #expect(totals.first { $0["kind"] as? String == "monetary" }?["remainingValue"] as? String == "7.50")
            #expect(totals.first { $0["kind"] as? String == "data" }?["remaining"] as? Int == 1_073_741_824 - 1_048_576)
            let buckets = try #require(balance["buckets"] as? [[String: Any]])
            #expect(buckets.first?["name"] as? String == "1 GB")
            #expect(buckets.first?["validUntil"] as? String == "2026-12-18T11:06:40.000Z")

            var keys: [String] = []
            var cursor: String?
            repeat {
                let query = cursor.map { "?limit=3&cursor=\($0)" } ?? "?limit=3"
                let page = try api.json(try await api.send(.get, "/v1/lines/+14155550100/transactions\(query)", key: api.reader))
                keys += (page["items"] as? [[String: Any]] ?? []).compactMap { $0["idempotencyKey"] as? String }
                cursor = page["nextCursor"] as? String
            } while cursor != nil
            #expect(keys == ["walk-4", "walk-3", "walk-2", "walk-1"])

            let got = try await api.send(.get, "/v1/lines/+14155550100", key: api.reader)
            #expect(try api.json(got)["iccid"] as? String == "8901260123456789011")
            let suspended = try await api.send(.patch, "/v1/lines/+14155550100", key: api.admin, json: #"{"status": "suspended"}"#)
            #expect(try api.json(suspended)["status"] as? String == "suspended")
        }
    }

    @Test func authentication() async throws {
        try await APIHarness.run { api in
            _ = try await api.openLine()
            let missing = try await api.send(.get, "/v1/lines/+14155550100/balance", key: nil)
            try api.expectProblem(missing, .unauthorized, "unauthorized")
            #expect(missing.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
            try api.expectProblem(try await api.send(.get, "/v1/lines/+14155550100/balance", key: "rk_wrong_key"), .unauthorized, "unauthorized")
            var headers: HTTPFields = [.authorization: "Basic dXNlcjpwYXNz"]
            headers[.accept] = "application/json"
            try api.expectProblem(try await api.client.execute(uri: "/v1/lines/+14155550100", method: .get, headers: headers, body: nil), .unauthorized, "unauthorized")
            // Scopes: read < write < admin.
            try api.expectProblem(try await api.send(.post, "/v1/lines/+14155550100/topups", key: api.reader, idempotencyKey: "k",
                                                     json: #"{"amount": {"currency": "USD", "value": "1"}, "channel": "card"}"#), .forbidden, "forbidden")
            try api.expectProblem(try await api.send(.post, "/v1/lines", key: api.writer, json: #"{"msisdn": "+14155550111"}"#), .forbidden, "forbidden")
            #expect(try await api.send(.get, "/v1/lines/+14155550100", key: api.writer).status == .ok)
            // A revoked key stops working (the test store caches for zero seconds; the server's default is one).
            let (record, secret) = try await api.services.apiKeys.create(name: "temp", scope: .read, now: APIHarness.now)
            #expect(try await api.send(.get, "/v1/lines/+14155550100", key: secret).status == .ok)
            _ = try await api.services.apiKeys.revoke(String(record.id), now: APIHarness.now)
            try api.expectProblem(try await api.send(.get, "/v1/lines/+14155550100", key: secret), .unauthorized, "unauthorized")
        }
    }

    /// Every kind of bad input gets its problem, and none of them changes the balance or the history.
    @Test func badInputIsRejectedAndChangesNothing() async throws {
        try await APIHarness.run { api in
            _ = try await api.openLine()
            _ = try await api.openLine("+8613800138000", extra: #", "currency": "CNY""#)
            #expect(try await api.topUp("+14155550100", "5.00", key: "fund").status == .created)
            let topups = "/v1/lines/+14155550100/topups"
            func post(_ json: String, key: String? = "bad", path: String = topups) async throws -> TestResponse {
                try await api.send(.post, path, key: api.writer, idempotencyKey: key, json: json)
            }
            try api.expectProblem(try await post(#"{"amount": {"currency": "USD", "value": "1.00"}, "channel": "card""#), .badRequest, "malformed-body")
            try api.expectProblem(try await post("[1, 2]"), .badRequest, "malformed-body")
            try api.expectProblem(try await post(""), .badRequest, "malformed-body")
            let wrongType = try await post(#"{"amount": {"currency": "USD", "value": 1.5}, "channel": "card"}"#)
            try api.expectProblem(wrongType, .badRequest, "malformed-body")
            #expect(try api.json(wrongType)["field"] as? String == "amount.value")
            let unknown = try await post(#"{"amount": {"currency": "USD", "value": "1"}, "channel": "card", "ammount": 5}"#)
            try api.expectProblem(unknown, .badRequest, "malformed-body")
            #expect(try api.json(unknown)["field"] as? String == "ammount")
            try api.expectProblem(try await post(#"{"amount": {"currency": "USD", "value": "1"}, "channel": "carrier-pigeon"}"#), .badRequest, "malformed-body")
            try api.expectProblem(try await post(#"{"channel": "card"}"#), .badRequest, "invalid-request")
            try api.expectProblem(try await post(#"{"amount": {"currency": "USD", "value": "-5.00"}, "channel": "card"}"#), .badRequest, "non-positive-amount")
            try api.expectProblem(try await post(#"{"amount": {"currency": "USD", "value": "0"}, "channel": "card"}"#), .badRequest, "non-positive-amount")
            try api.expectProblem(try await post(#"{"amount": {"currency": "USD", "value": "1.0000001"}, "channel": "card"}"#), .badRequest, "invalid-amount")
            try api.expectProblem(try await post(#"{"amount": {"currency": "USD", "value": "1e3"}, "channel": "card"}"#), .badRequest, "invalid-amount")
            try api.expectProblem(try await post(#"{"amount": {"currency": "USD", "value": "99999999999999"}, "channel": "card"}"#), .badRequest, "amount-overflow")
            try api.expectProblem(try await post(#"{"amount": {"currency": "XYZ", "value": "1"}, "channel": "card"}"#), .badRequest, "unknown-currency")
            try api.expectProblem(try await post(#"{"amount": {"currency": "CNY", "value": "1"}, "channel": "card"}"#), .unprocessableContent, "currency-mismatch")
            try api.expectProblem(try await post(#"{"bucket": {"kind": "data", "amount": {"currency": "USD", "value": "1"}}, "channel": "card"}"#), .badRequest, "invalid-request")
            try api.expectProblem(try await post(#"{"bucket": {"kind": "data", "amount": 100, "validUntil": "2020-01-01T00:00:00Z"}, "channel": "card"}"#), .badRequest, "invalid-request")
            try api.expectProblem(try await post(#"{"bucket": {"kind": "data", "amount": 100, "validUntil": "next week"}, "channel": "card"}"#), .badRequest, "malformed-body")
            try api.expectProblem(try await post(#"{"amount": {"currency": "USD", "value": "1"}, "channel": "card"}"#, key: nil), .badRequest, "missing-idempotency-key")
            try api.expectProblem(try await post(#"{"amount": {"currency": "USD", "value": "1"}, "channel": "card"}"#, key: "has space"), .badRequest, "invalid-idempotency-key")
            try api.expectProblem(try await post(#"{"amount": {"currency": "USD", "value": "1"}, "channel": "card"}"#, key: String(repeating: "k", count: 256)), .badRequest, "invalid-idempotency-key")
            // A key already used for another request: 409, and the first request's effect stands alone.
            try api.expectProblem(try await post(#"{"amount": {"currency": "USD", "value": "9.00"}, "channel": "card"}"#, key: "fund"), .conflict, "idempotency-key-reused")
            let huge = #"{"amount": {"currency": "USD", "value": "1"}, "channel": "card", "reference": ""# + String(repeating: "x", count: 70_000) + #""}"#
            try api.expectProblem(try await post(huge), .contentTooLarge, "body-too-large")
            try api.expectProblem(try await post(#"{"amount": {"currency": "USD", "value": "1"}, "channel": "card"}"#, path: "/v1/lines/12345/topups"), .badRequest, "invalid-msisdn")
            try api.expectProblem(try await post(#"{"amount": {"currency": "USD", "value": "1"}, "channel": "card"}"#, path: "/v1/lines/+14155550199/topups"), .notFound, "line-not-found")
            try api.expectProblem(try await post(#"{"amount": {"currency": "USD", "value": "50"}}"#, path: "/v1/lines/+14155550100/debits"), .unprocessableContent, "insufficient-balance")
            try api.expectProblem(try await post(#"{"usage": {"kind": "data", "amount": -1}}"#, key: "bad-2", path: "/v1/lines/+14155550100/debits"), .badRequest, "non-positive-amount")
            try api.expectProblem(try await post(#"{"usage": {"kind": "data", "amount": 1.5}}"#, key: "bad-3", path: "/v1/lines/+14155550100/debits"), .badRequest, "malformed-body")

            // Opening lines.
            try api.expectProblem(try await api.openLine("+1 (115) 555-0100"), .badRequest, "invalid-msisdn")
            try api.expectProblem(try await api.openLine("+14155550177", extra: #", "iccid": "8901260123456789012""#), .badRequest, "invalid-iccid")
            try api.expectProblem(try await api.openLine("+14155550177", extra: #", "currency": "ZZZ""#), .badRequest, "unknown-currency")
            try api.expectProblem(try await api.openLine("+14155550177", extra: #", "creditLimit": {"currency": "USD", "value": "-1"}"#), .badRequest, "invalid-amount")
            try api.expectProblem(try await api.openLine("+14155550177", extra: #", "type": "hybrid""#), .badRequest, "malformed-body")
            try api.expectProblem(try await api.openLine("+14155550100"), .conflict, "line-already-exists")
            try api.expectProblem(try await api.send(.patch, "/v1/lines/+14155550100", key: api.admin, json: #"{"status": "paused"}"#), .badRequest, "malformed-body")

            // Queries.
            try api.expectProblem(try await api.send(.get, "/v1/lines/+14155550100/transactions?cursor=bm9wZQ", key: api.reader), .badRequest, "invalid-cursor")
            try api.expectProblem(try await api.send(.get, "/v1/lines/+14155550100/transactions?from=yesterday", key: api.reader), .badRequest, "invalid-request")
            try api.expectProblem(try await api.send(.get, "/v1/lines/+14155550100/transactions?limit=0", key: api.reader), .badRequest, "invalid-request")
            try api.expectProblem(try await api.send(.get, "/v1/nothing-here", key: api.reader), .notFound, "not-found")

            // After all of that: exactly the one funding top-up.
            #expect(try await api.mainBalance() == "5.00")
            let history = try api.json(try await api.send(.get, "/v1/lines/+14155550100/transactions", key: api.reader))
            #expect((history["items"] as? [[String: Any]])?.count == 1)
            #expect(try await api.send(.get, "/v1/lines/+14155550177", key: api.reader).status == .notFound)
        }
    }

    @Test func debitRejectionIsReplayedForItsKey() async throws {
        try await APIHarness.run { api in
            _ = try await api.openLine()
            let charge = #"{"amount": {"currency": "USD", "value": "3.00"}}"#
            let refused = try await api.send(.post, "/v1/lines/+14155550100/debits", key: api.writer, idempotencyKey: "d", json: charge)
            try api.expectProblem(refused, .unprocessableContent, "insufficient-balance")
            #expect(refused.headers[HTTPField.Name("Idempotent-Replayed")!] == nil)
            _ = try await api.topUp("+14155550100", "10", key: "t")
            // The stored refusal, marked as a replay like a replayed success (docs/api.md, "Idempotency").
            let replayed = try await api.send(.post, "/v1/lines/+14155550100/debits", key: api.writer, idempotencyKey: "d", json: charge)
            try api.expectProblem(replayed, .unprocessableContent, "insufficient-balance")
            #expect(replayed.headers[HTTPField.Name("Idempotent-Replayed")!] == "true")
            #expect(try await api.send(.post, "/v1/lines/+14155550100/debits", key: api.writer, idempotencyKey: "d2", json: charge).status == .created)
            #expect(try await api.mainBalance() == "7.00")
        }
    }
}
