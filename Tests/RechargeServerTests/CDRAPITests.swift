import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import RechargeCore
import RechargeServer
import RechargeStore
import RechargeTestSupport
import Testing

/// The CDR routes through the router: a file imported (and again, charging nothing), its summary and rejects read
/// back, a re-rating, and bad requests refused with problem+json and nothing changed.
@Suite("CDR API")
struct CDRAPITests {
    static func upload(_ api: APIHarness, _ csv: String, key: String, contentType: String = "text/csv", file: String = "day1.csv") async throws -> TestResponse {
        var headers: HTTPFields = [.authorization: "Bearer \(key)"]
        headers[.contentType] = contentType
        return try await api.client.execute(uri: "/v1/cdrs?file=\(file)", method: .post, headers: headers, body: ByteBuffer(string: csv))
    }

    static let csv = """
        record_id,msisdn,service,start,quantity,destination,visited
        a1,+14155550100,voice,2026-12-01T10:00:00+08:00,61,+14155550111,
        a2,+14155550100,sms,2026-12-01T10:05:00+08:00,1,+14155550111,
        a3,+14155550199,sms,2026-12-01T10:06:00+08:00,1,+14155550111,
        a4,+14155550100,voice,2026-12-01T10:07:00+08:00,60,+14155550111,JP

        """

    @Test func importSummaryRejectsAndRerate() async throws {
        try await ChargingAPITests.withRating { api in
            #expect(try await api.topUp("+14155550100", "1.00", key: "t1").status == .created)
            let created = try await Self.upload(api, Self.csv, key: api.admin)
            #expect(created.status == .created)
            let summary = try api.json(created)
            let id = try #require(summary["id"] as? Int)
            #expect(created.headers[.location] == "/v1/cdrs/imports/\(id)")
            #expect(summary["imported"] as? Int == 3 && summary["rejected"] as? Int == 1 && summary["alreadyImported"] as? Int == 0)
            // 2 minutes at 0.05, an SMS at 0.05, a minute roaming in Japan at 0.25.
            #expect((summary["charged"] as? [String: Any])?["value"] as? String == "0.40")
            #expect(try await api.mainBalance() == "0.60")

            let again = try api.json(try await Self.upload(api, Self.csv, key: api.admin))
            #expect(again["imported"] as? Int == 0 && again["alreadyImported"] as? Int == 3 && again["charged"] == nil)
            #expect(try await api.mainBalance() == "0.60")

            let read = try api.json(try await api.send(.get, "/v1/cdrs/imports/\(id)", key: api.admin))
            #expect(read["state"] as? String == "done" && read["file"] as? String == "day1.csv" && read["rows"] as? Int == 4)
            let rejects = try api.json(try await api.send(.get, "/v1/cdrs/imports/\(id)/rejects", key: api.admin))
            let item = try #require((rejects["items"] as? [[String: Any]])?.first)
            #expect(item["line"] as? Int == 4 && item["recordId"] as? String == "a3" && item["code"] as? String == "unknown-number")

            // The records in itemized usage, their debits in the history.
            let usage = try api.json(try await api.send(.get, "/v1/lines/+14155550100/usage", key: api.reader))
            #expect((usage["items"] as? [[String: Any]])?.filter { $0["source"] as? String == "cdr" }.count == 3)

            // Nothing changed in the catalog: a re-rating finds every price the same.
            let rerate = try await api.send(.post, "/v1/cdrs/rerate", key: api.admin,
                                            json: #"{"from": "2026-12-01T00:00:00+08:00", "until": "2026-12-02T00:00:00+08:00"}"#)
            #expect(rerate.status == .ok)
            let rerated = try api.json(rerate)
            #expect(rerated["examined"] as? Int == 3 && rerated["rerated"] as? Int == 0 && rerated["unchanged"] as? Int == 3)
            #expect(try await api.mainBalance() == "0.60")
        }
    }

    @Test func badRequestsChangeNothing() async throws {
        try await ChargingAPITests.withRating { api in
            #expect(try await api.topUp("+14155550100", "1.00", key: "t1").status == .created)
            try api.expectProblem(try await Self.upload(api, "record_id,msisdn,colour\n", key: api.admin), .badRequest, "invalid-cdr-file")
            try api.expectProblem(try await Self.upload(api, "", key: api.admin), .badRequest, "invalid-cdr-file")
            try api.expectProblem(try await Self.upload(api, Self.csv, key: api.admin, contentType: "application/json"), .unsupportedMediaType,
                                  "unsupported-media-type")
            try api.expectProblem(try await Self.upload(api, Self.csv, key: api.writer), .forbidden, "forbidden")
            try api.expectProblem(try await api.send(.get, "/v1/cdrs/imports/99", key: api.admin), .notFound, "cdr-import-not-found")
            try api.expectProblem(try await api.send(.get, "/v1/cdrs/imports/x", key: api.admin), .badRequest, "invalid-request")
            try api.expectProblem(try await api.send(.post, "/v1/cdrs/rerate", key: api.admin, json: #"{"from": "yesterday", "until": "today"}"#),
                                  .badRequest, "invalid-request")
            #expect(try await api.mainBalance() == "1.00")
        }
    }
}
