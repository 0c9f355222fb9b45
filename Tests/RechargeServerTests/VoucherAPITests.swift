import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import RechargeCore
@testable import RechargeServer
import RechargeStore
import RechargeTestSupport
import Testing

@Suite("Voucher redemption API")
struct VoucherAPITests {
    static let now = TestDatabase.epoch
    static let key = try! VoucherKey(id: "api1", secret: Array(repeating: UInt8(9), count: 32))

    /// The API with vouchers on, one line, and an active batch of `count` 10.00 USD cards (PINs by serial).
    static func run(count: Int64 = 5, approvalAbove: Money = VoucherApprovalPolicy.defaultThreshold,
                    _ body: @escaping @Sendable (APIHarness, VoucherBatch, [Int64: String]) async throws -> Void) async throws {
        try await TestDatabase.with(.sqlite) { database in
            let services = RechargeServices(database: database, apiKeyCacheLifetime: .zero, clock: { now }, voucherKey: key,
                                            voucherApproval: VoucherApprovalPolicy(threshold: approvalAbove))
            let admin = try await services.apiKeys.create(name: "admin", scope: .admin, now: now).secret
            let writer = try await services.apiKeys.create(name: "writer", scope: .write, now: now).secret
            let reader = try await services.apiKeys.create(name: "reader", scope: .read, now: now).secret
            let vouchers = try #require(services.vouchers)
            let batch = try await vouchers.createBatch(
                try VoucherBatchRequest(denomination: .money(Money(micros: 10_000_000, currency: .usd)), count: count,
                                        expiresAt: now.addingTimeInterval(86_400 * 30), createdBy: "ops", now: now), now: now)
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("vouchers-api-\(UUID().uuidString).csv").path
            defer { try? FileManager.default.removeItem(atPath: path) }
            _ = try await vouchers.export(batch: batch.id, to: path, actor: "ops", now: now)
            var pins: [Int64: String] = [:]
            for line in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").dropFirst() {
                let fields = line.split(separator: ",")
                pins[Int64(fields[0])!] = String(fields[1])
            }
            let exported = pins
            _ = try await vouchers.receive(batch: batch.id, actor: "ops", now: now)
            _ = try await vouchers.activate(batch: batch.id, range: try VoucherSerialRange(first: batch.serials.first, last: batch.serials.last - 1), actor: "ops", now: now)
            let app = buildApplication(ServerConfiguration(), services: services)
            try await app.test(.router) { client in
                let api = APIHarness(client: client, services: services, admin: admin, writer: writer, reader: reader)
                #expect(try await api.openLine().status == .created)
                try await body(api, batch, exported)
            }
        }
    }

    static func redeem(_ api: APIHarness, _ json: String, msisdn: String = "+14155550100", key: String? = nil) async throws -> TestResponse {
        try await api.send(.post, "/v1/lines/\(msisdn)/voucher-redemptions", key: key ?? api.writer, json: json)
    }

    @Test func aPINCreditsTheLineOnce() async throws {
        try await Self.run { api, batch, pins in
            let serial = batch.serials.first
            let pin = pins[serial]!
            let grouped = "\(pin.prefix(4)) \(pin.dropFirst(4).prefix(4)) \(pin.dropFirst(8).prefix(4)) \(pin.suffix(4))"
            // The card number may be typed as printed too: in groups, with spaces or dashes.
            let printedSerial = "\(String(serial).prefix(4)) \(String(serial).dropFirst(4).prefix(3))-\(String(serial).dropFirst(7))"
            let first = try await Self.redeem(api, #"{"pin": "\#(grouped)", "serial": "\#(printedSerial)", "channel": "api"}"#)
            #expect(first.status == .created, "\(String(buffer: first.body))")
            let body = try api.json(first)
            #expect(body["serial"] as? String == String(serial) && body["msisdn"] as? String == "+14155550100")
            #expect((body["credited"] as? [String: Any])?["value"] as? String == "10.00")
            let operation = try #require(body["operation"] as? [String: Any])
            #expect(operation["channel"] as? String == "voucher" && operation["idempotencyKey"] as? String == "voucher:\(serial)")
            #expect(try await api.mainBalance() == "10.00")
            #expect(!String(buffer: first.body).contains(pin))

            let again = try await Self.redeem(api, #"{"pin": "\#(pin)"}"#)
            try api.expectProblem(again, .conflict, "voucher-already-redeemed")
            #expect((try api.json(again)["detail"] as? String)?.contains("+1••••••••00") == true)
            #expect(try await api.mainBalance() == "10.00")
        }
    }

    @Test func refusalsAreProblems() async throws {
        try await Self.run { api, batch, pins in
            try api.expectProblem(try await Self.redeem(api, #"{"pin": "1234"}"#), .badRequest, "malformed-voucher-pin")
            try api.expectProblem(try await Self.redeem(api, #"{"pin": "4111111111111112"}"#), .badRequest, "malformed-voucher-pin")
            try api.expectProblem(try await Self.redeem(api, #"{"pin": "4111111111111111"}"#), .unprocessableContent, "invalid-voucher-pin")
            // A card number that is not digits is a typing mistake (400, not counted); one with another card's PIN,
            // or a real PIN with another card's number, is no better than a guess.
            try api.expectProblem(try await Self.redeem(api, #"{"pin": "4111111111111111", "serial": "10O0"}"#), .badRequest, "malformed-voucher-serial")
            try api.expectProblem(try await Self.redeem(api, #"{"pin": "4111111111111111", "serial": " - "}"#), .badRequest, "malformed-voucher-serial")
            try api.expectProblem(try await Self.redeem(api, #"{"pin": "\#(pins[batch.serials.first]!)", "serial": "\#(batch.serials.first + 1)"}"#),
                                  .unprocessableContent, "invalid-voucher-pin")
            try api.expectProblem(try await Self.redeem(api, #"{"pin": "\#(pins[batch.serials.last]!)"}"#), .unprocessableContent, "voucher-not-active")
            try api.expectProblem(try await Self.redeem(api, #"{"pin": "\#(pins[batch.serials.first]!)", "amount": 5}"#), .badRequest, "malformed-body")
            try api.expectProblem(try await Self.redeem(api, #"{"pin": "\#(pins[batch.serials.first]!)", "channel": "fax"}"#), .badRequest, "malformed-body")
            try api.expectProblem(try await Self.redeem(api, #"{"pin": "\#(pins[batch.serials.first]!)"}"#, msisdn: "+14155550199"), .notFound, "line-not-found")
            try api.expectProblem(try await Self.redeem(api, #"{"pin": "\#(pins[batch.serials.first]!)"}"#, key: api.reader), .forbidden, "forbidden")
            #expect(try await api.mainBalance() == "0.00")
        }
    }

    @Test func guessingIsLockedOutWithRetryAfter() async throws {
        try await Self.run { api, batch, pins in
            var generator = SystemRandomNumberGenerator()
            for _ in 0..<5 {
                let guess = VoucherPIN.generate(using: &generator).digits
                try api.expectProblem(try await Self.redeem(api, #"{"pin": "\#(guess)"}"#), .unprocessableContent, "invalid-voucher-pin")
            }
            let locked = try await Self.redeem(api, #"{"pin": "\#(pins[batch.serials.first]!)"}"#)
            try api.expectProblem(locked, .tooManyRequests, "voucher-redemption-locked")
            #expect(locked.headers[.retryAfter] == "900")
            #expect(try await api.mainBalance() == "0.00")
        }
    }

    @Test func aGuessingSpikePausesTheChannelWithRetryAfter() async throws {
        try await Self.run { api, batch, pins in
            let ivr = try await api.services.apiKeys.create(name: "ivr-gw", scope: .write, channel: .ivr, now: Self.now).secret
            var generator = SystemRandomNumberGenerator()
            // Ten guesses for ten callers' lines through the IVR gateway's key: no line reaches its own limit, the channel does.
            for index in 0..<10 {
                let msisdn = "+1415555020\(index)"
                #expect(try await api.openLine(msisdn).status == .created)
                let guess = VoucherPIN.generate(using: &generator).digits
                try api.expectProblem(try await Self.redeem(api, #"{"pin": "\#(guess)"}"#, msisdn: msisdn, key: ivr), .unprocessableContent, "invalid-voucher-pin")
            }
            let paused = try await Self.redeem(api, #"{"pin": "\#(pins[batch.serials.first]!)", "channel": "ivr"}"#, key: ivr)
            try api.expectProblem(paused, .serviceUnavailable, "voucher-redemption-paused")
            #expect(paused.headers[.retryAfter] == "600")
            // Keys of other channels are not paused.
            let other = try await Self.redeem(api, #"{"pin": "\#(pins[batch.serials.first]!)"}"#)
            #expect(other.status == .created)
        }
    }

    /// The channel and the client are the key's: a body naming another channel is refused (403), a `client` field is
    /// unknown (400), and a key's guesses all land on its own channel's breaker.
    @Test func theChannelAndClientAreTheKeys() async throws {
        try await Self.run { api, batch, pins in
            let ivr = try await api.services.apiKeys.create(name: "ivr-gw", scope: .write, channel: .ivr, now: Self.now)
            #expect(ivr.record.channel == .ivr)
            #expect(try await api.services.apiKeys.verify(ivr.secret)?.voucherChannel == .ivr)
            await #expect(throws: RechargeError.self) { try await api.services.apiKeys.create(name: "web", scope: .write, channel: .portal, now: Self.now) }
            let pin = pins[batch.serials.first]!
            for channel in ["portal", "ussd", "api"] {
                try api.expectProblem(try await Self.redeem(api, #"{"pin": "\#(pin)", "channel": "\#(channel)"}"#, key: ivr.secret), .forbidden, "voucher-channel-not-allowed")
            }
            try api.expectProblem(try await Self.redeem(api, #"{"pin": "\#(pin)", "channel": "ivr"}"#), .forbidden, "voucher-channel-not-allowed")
            try api.expectProblem(try await Self.redeem(api, #"{"pin": "\#(pin)", "client": "caller-1"}"#, key: ivr.secret), .badRequest, "malformed-body")
            var generator = SystemRandomNumberGenerator()
            try api.expectProblem(try await Self.redeem(api, #"{"pin": "\#(VoucherPIN.generate(using: &generator).digits)"}"#, key: ivr.secret),
                                  .unprocessableContent, "invalid-voucher-pin")
            let vouchers = try #require(api.services.vouchers)
            #expect(try await vouchers.guardCounter(.channel("ivr"))?.failures == 1)
            #expect(try await vouchers.guardCounter(.channel("api"))?.failures ?? 0 == 0)
            #expect(try await Self.redeem(api, #"{"pin": "\#(pin)", "channel": "ivr"}"#, key: ivr.secret).status == .created)
        }
    }

    /// 60 wrong PINs at once through one IVR key for 60 lines: only the breaker's threshold reach the PIN check.
    @Test func concurrentGuessesThroughAKeyStopAtTheBreaker() async throws {
        try await Self.run { api, _, _ in
            let ivr = try await api.services.apiKeys.create(name: "ivr-gw", scope: .write, channel: .ivr, now: Self.now).secret
            var generator = SystemRandomNumberGenerator()
            let guesses = (0..<60).map { _ in VoucherPIN.generate(using: &generator).digits }
            let codes = try await withThrowingTaskGroup(of: String.self) { group in
                for (index, guess) in guesses.enumerated() {
                    group.addTask {
                        let response = try await Self.redeem(api, #"{"pin": "\#(guess)"}"#, msisdn: "+1415600\(String(format: "%04d", index))", key: ivr)
                        return try api.json(response)["code"] as? String ?? "\(response.status)"
                    }
                }
                var codes: [String: Int] = [:]
                for try await code in group { codes[code, default: 0] += 1 }
                return codes
            }
            print("[api] 60 concurrent wrong PINs through one ivr key: \(codes)")
            #expect(codes == ["invalid-voucher-pin": VoucherGuessingPolicy().channelThreshold, "voucher-redemption-paused": 60 - VoucherGuessingPolicy().channelThreshold])
        }
    }

    /// Activation above the threshold through the API: the admin key that asked cannot approve, another admin key can;
    /// a write key can do neither.
    @Test func dualApprovalNeedsTwoAdminKeys() async throws {
        try await Self.run(count: 5, approvalAbove: Money(micros: 5_000_000, currency: .usd)) { api, batch, pins in
            let second = try await api.services.apiKeys.create(name: "admin-2", scope: .admin, now: Self.now).secret
            // The last card, worth 10.00, above the 5.00 threshold (the harness's activation of the others waits for approval too).
            let whole = String(batch.serials.last)
            try api.expectProblem(try await api.send(.post, "/v1/voucher-batches/\(batch.id)/activations", key: api.writer, json: #"{"serials": "\#(whole)"}"#),
                                  .forbidden, "forbidden")
            let asked = try await api.send(.post, "/v1/voucher-batches/\(batch.id)/activations", key: api.admin, json: #"{"serials": "\#(whole)"}"#)
            #expect(asked.status == .accepted, "\(String(buffer: asked.body))")
            let pending = try api.json(asked)
            #expect(pending["state"] as? String == "pending_approval" && pending["cards"] as? Int == 1)
            let approval = try #require(pending["approvalId"] as? Int)
            try api.expectProblem(try await api.send(.post, "/v1/voucher-approvals/\(approval)/approve", key: api.admin), .conflict, "voucher-approval-by-same-admin")
            try api.expectProblem(try await api.send(.post, "/v1/voucher-approvals/\(approval)/approve", key: api.writer), .forbidden, "forbidden")
            let approved = try await api.send(.post, "/v1/voucher-approvals/\(approval)/approve", key: second)
            #expect(approved.status == .ok, "\(String(buffer: approved.body))")
            #expect(try api.json(approved)["activated"] as? Int == 1)
            try api.expectProblem(try await api.send(.post, "/v1/voucher-approvals/\(approval)/approve", key: second), .conflict, "voucher-approval-not-pending")
            try api.expectProblem(try await api.send(.post, "/v1/voucher-approvals/999/approve", key: second), .notFound, "voucher-approval-not-found")
            #expect(try await Self.redeem(api, #"{"pin": "\#(pins[batch.serials.last]!)"}"#).status == .created)
            let log = try await #require(api.services.vouchers).auditLog(batch: batch.id)
            #expect(log.last?.actor.hasPrefix("apikey:admin-2 (API key ") == true)
        }
    }

    @Test func handWrittenResponseIsWhatJSONEncoderWrites() throws {
        let operation = LedgerOperation(
            id: 7, kind: .topUp, msisdn: "+14155550100", idempotencyKey: "voucher:1000000001:pay", channel: .voucher,
            reference: "voucher:1000000001", createdAt: Self.now,
            entries: [.init(transferID: 3, bucketID: 2, bucketKind: .monetary, unit: "USD", amount: 15_000_000, remainingAfter: 15_000_000)])
        for pack in [nil, "us-data-5gb"] {
            let output = VoucherRedemptionOutput(VoucherRedemption(
                serial: 1_000_000_001, batchID: 4, msisdn: try MSISDN("+14155550100"), credited: Money(micros: 15_000_000, currency: .usd),
                pack: pack, operation: operation, operations: [operation], redeemedAt: Self.now))
            var json = JSONWriter(capacity: 768)
            output.write(to: &json)
            #expect(String(decoding: json.bytes, as: UTF8.self) == String(decoding: try JSONResponse.encoder.encode(output), as: UTF8.self))
        }
    }
}
