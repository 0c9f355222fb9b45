import Foundation
import HTTPTypes
import RechargeCore
import RechargeServer
import RechargeStore
import RechargeTestSupport
import Testing

/// The charging API end to end through the router: a session opened, updated (and retried), released; an event;
/// a quote; itemized usage; the line's bar; bad input refused with problem+json and nothing changed.
@Suite("Charging API")
struct ChargingAPITests {
    static let rating = RatingDefinition(
        currency: "USD", homeCountries: ["US"],
        zones: [.init(name: "asia", countries: ["JP"], networks: nil)],
        tariffs: [
            .init(code: "voice-us", service: "voice", destinations: ["1"], price: "0.05", per: 60, increments: "60/60"),
            .init(code: "voice-roam-asia", service: "voice", zone: "asia", price: "0.25", per: 60, increments: "60/60"),
            .init(code: "sms", service: "sms", anywhere: true, price: "0.05", per: 1),
        ])

    static func withRating(_ body: @escaping @Sendable (APIHarness) async throws -> Void) async throws {
        try await APIHarness.run { api in
            _ = try await api.services.catalog.importCatalog(try Catalog(CatalogDefinition(customTopUp: nil, products: [], rating: rating)), now: APIHarness.now)
            #expect(try await api.openLine().status == .created)
            try await body(api)
        }
    }

    @Test func sessionLifecycle() async throws {
        try await Self.withRating { api in
            #expect(try await api.topUp("+14155550100", "0.30", key: "t1").status == .created)
            let created = try await api.send(.post, "/v1/charging/sessions", key: api.writer,
                                             json: #"{"sessionId": "gw1;1", "msisdn": "+14155550100", "service": "voice", "destination": "+14155550111"}"#)
            #expect(created.status == .created)
            #expect(created.headers[.location] == "/v1/charging/sessions/gw1;1")
            let answer = try api.json(created)
            let service = try #require((answer["services"] as? [[String: Any]])?.first)
            #expect(answer["result"] as? String == "success" && service["grantedUnits"] as? Int == 300 && service["validitySeconds"] as? Int == 600)

            let update = try await api.send(.post, "/v1/charging/sessions/gw1;1/update", key: api.writer,
                                            json: #"{"requestNumber": 1, "usedUnits": 61}"#)
            #expect(update.status == .ok)
            let charged = try #require((try api.json(update)["services"] as? [[String: Any]])?.first?["charged"] as? [String: Any])
            #expect(charged["value"] as? String == "0.10")
            // A retry: the stored answer, marked as a replay.
            let retry = try await api.send(.post, "/v1/charging/sessions/gw1;1/update", key: api.writer,
                                           json: #"{"requestNumber": 1, "usedUnits": 61}"#)
            #expect(retry.headers[HTTPField.Name("Idempotent-Replayed")!] == "true")
            #expect(try await api.mainBalance() == "0.20")

            let release = try await api.send(.post, "/v1/charging/sessions/gw1;1/release", key: api.writer,
                                             json: #"{"requestNumber": 2, "usedUnits": 59}"#)
            #expect(try api.json(release)["result"] as? String == "success")
            #expect(try await api.mainBalance() == "0.20")
            let session = try api.json(try await api.send(.get, "/v1/charging/sessions/gw1;1", key: api.reader))
            let stored = try #require((session["services"] as? [[String: Any]])?.first)
            #expect(stored["state"] as? String == "closed" && stored["usedUnits"] as? Int == 120 && stored["reserved"] as? Int == 0)
            let usage = try api.json(try await api.send(.get, "/v1/lines/+14155550100/usage", key: api.reader))
            let item = try #require((usage["items"] as? [[String: Any]])?.first)
            #expect(item["destination"] as? String == "+14155550111" && item["units"] as? Int == 120 && item["tariff"] as? String == "voice-us")
            #expect(item["explanation"] as? String == "+14155550111, voice, 120 s → 2 × 60 s at 0.05 = 0.10 USD")
            try api.expectProblem(try await api.send(.get, "/v1/charging/sessions/nope", key: api.reader), .notFound, "charging-session-not-found")
        }
    }

    @Test func eventsQuotesAndTheBar() async throws {
        try await Self.withRating { api in
            #expect(try await api.topUp("+14155550100", "0.05", key: "t1").status == .created)
            let sms = #"{"eventId": "sms-1", "msisdn": "+14155550100", "service": "sms", "destination": "+8613800138000"}"#
            #expect(try api.json(try await api.send(.post, "/v1/charging/events", key: api.writer, json: sms))["result"] as? String == "success")
            let second = #"{"eventId": "sms-2", "msisdn": "+14155550100", "service": "sms", "destination": "+8613800138000"}"#
            let refused = try api.json(try await api.send(.post, "/v1/charging/events", key: api.writer, json: second))
            #expect(refused["result"] as? String == "credit-limit-reached" && refused["barred"] as? Bool == true)
            #expect(try api.json(try await api.send(.get, "/v1/lines/+14155550100", key: api.reader))["barred"] as? Bool == true)
            // A recharge lifts the bar.
            #expect(try await api.topUp("+14155550100", "5.00", key: "t2").status == .created)
            #expect(try api.json(try await api.send(.get, "/v1/lines/+14155550100", key: api.reader))["barred"] as? Bool == false)

            let quote = try api.json(try await api.send(.post, "/v1/rating/quote", key: api.reader,
                                                         json: #"{"service": "voice", "destination": "+8613800138000", "units": 125, "visitedCountry": "JP"}"#))
            #expect(quote["explanation"] as? String == "+8613800138000, voice, 125 s, roaming JP → 3 × 60 s at 0.25 = 0.75 USD")
            #expect((quote["charge"] as? [String: Any])?["value"] as? String == "0.75")
            let free = try api.json(try await api.send(.post, "/v1/rating/quote", key: api.reader, json: #"{"service": "voice", "destination": "112", "units": 600}"#))
            #expect(free["free"] as? Bool == true)
        }
    }

    @Test func badInputIsRefusedAndChangesNothing() async throws {
        try await Self.withRating { api in
            let cases: [(String, String, String)] = [
                ("/v1/charging/sessions", #"{"msisdn": "+14155550100", "service": "Voice!"}"#, "invalid-request"),
                ("/v1/charging/sessions", #"{"msisdn": "12", "service": "voice"}"#, "invalid-msisdn"),
                ("/v1/charging/sessions", #"{"msisdn": "+14155550100", "service": "voice", "extra": 1}"#, "malformed-body"),
                ("/v1/charging/sessions", #"{"msisdn": "+14155550100", "service": "voice", "destination": "abc"}"#, "invalid-request"),
                ("/v1/charging/sessions", #"{"msisdn": "+14155550100", "service": "voice", "notifyUri": "file:///etc/passwd"}"#, "invalid-request"),
                ("/v1/charging/sessions/s/update", #"{"requestNumber": 0, "usedUnits": 1}"#, "invalid-request"),
                ("/v1/charging/sessions/s/update", #"{"requestNumber": 1, "usedUnits": -1}"#, "invalid-request"),
                ("/v1/rating/quote", #"{"service": "voice", "units": 10, "visitedCountry": "Japan"}"#, "invalid-request"),
            ]
            for (path, body, code) in cases {
                let response = try await api.send(.post, path, key: api.writer, json: body)
                #expect(response.status == .badRequest, "\(path) \(body): \(String(buffer: response.body))")
                let problem = try api.json(response)
                #expect(problem["code"] as? String == code, "\(body): \(problem)")
            }
            // Read scope cannot charge.
            try api.expectProblem(try await api.send(.post, "/v1/charging/events", key: api.reader,
                                                     json: #"{"eventId": "e", "msisdn": "+14155550100", "service": "sms"}"#), .forbidden, "forbidden")
            let sessions = try await api.services.database.read { db in try await db.raw("SELECT COUNT(*) AS n FROM charging_sessions").first()?.decode(column: "n", as: Int.self) }
            #expect(sessions == 0)
        }
    }
}
