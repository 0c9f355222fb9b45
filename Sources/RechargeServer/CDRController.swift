import Foundation
import HTTPTypes
import Hummingbird
import RechargeCore
import RechargeStore

/// `/v1/cdrs…`: offline usage from call detail records (docs/cdr.md), for operators (admin scope). A CSV body is
/// imported like `recharge cdr import` (each record charged once, bad rows listed with their line numbers); an
/// import's summary and rejects can be read back; a period can be re-rated after a tariff fix.
struct CDRController {
    let store: CDRImportStore
    let clock: @Sendable () -> Date

    /// The largest CSV body taken over HTTP (about 400,000 records); larger files go through `recharge cdr import`,
    /// which reads from disk. Bank statements are limited to 8 MB the same way.
    static let maximumUpload = 32 << 20

    func addRoutes(to group: RouterGroup<RechargeRequestContext>) {
        let admin = group.requiring(.admin)
        admin.post("cdrs", use: importFile)
        admin.get("cdrs/imports/{id}", use: summary)
        admin.get("cdrs/imports/{id}/rejects", use: rejects)
        admin.post("cdrs/rerate", use: rerate)
    }

    /// A CSV body (`text/csv`), optionally named with `?file=`: rated and charged, answered with the import's summary.
    @Sendable func importFile(_ request: Request, context: RechargeRequestContext) async throws -> CDRReply {
        guard request.headers[.contentType]?.lowercased().hasPrefix("text/csv") == true else {
            throw Problem(status: .unsupportedMediaType, code: "unsupported-media-type", title: "Unsupported media type",
                          detail: "A CDR file is sent as text/csv.")
        }
        let data = Data(buffer: try await JSONBody.collect(request, upTo: Self.maximumUpload))
        let name = request.uri.queryParameters.get("file").map { String($0) } ?? "upload.csv"
        guard (1...255).contains(name.utf8.count) else { throw RechargeError.invalidRequest("'file' must be 1 to 255 bytes.") }
        do {
            return .summary(try await store.importFile(data, name: name, now: clock()), created: true)
        } catch let error as CDRFileError {
            throw Problem(status: .badRequest, code: "invalid-cdr-file", title: "Invalid CDR file", detail: error.detail)
        }
    }

    @Sendable func summary(_ request: Request, context: RechargeRequestContext) async throws -> CDRReply {
        .summary(try await found(try context.importID()), created: false)
    }

    @Sendable func rejects(_ request: Request, context: RechargeRequestContext) async throws -> CDRReply {
        let id = try context.importID()
        let summary = try await found(id)
        var limit = 1_000
        if let text = request.uri.queryParameters.get("limit") {
            guard let value = Int(text), (1...10_000).contains(value) else { throw RechargeError.invalidRequest("'limit' must be 1 to 10000.") }
            limit = value
        }
        return .rejects(try await store.rejects(importID: id, limit: limit), importID: id, file: summary.file)
    }

    @Sendable func rerate(_ request: Request, context: RechargeRequestContext) async throws -> CDRReply {
        let body = try await JSONBody.decode(CDRRerateRequest.self, from: request, context: context)
        guard let from = RFC3339.parse(body.from), let until = RFC3339.parse(body.until) else {
            throw RechargeError.invalidRequest("'from' and 'until' are RFC 3339 date-times such as 2026-12-01T00:00:00+08:00.")
        }
        guard from < until else { throw RechargeError.invalidRequest("'from' must be before 'until'.") }
        return .rerate(try await store.rerate(from: from, until: until, now: clock()))
    }

    private func found(_ id: Int64) async throws -> CDRImportStore.Summary {
        guard let summary = try await store.summary(id) else {
            throw Problem(status: .notFound, code: "cdr-import-not-found", title: "CDR import not found", detail: "No CDR import has the id \(id).")
        }
        return summary
    }
}

extension RechargeRequestContext {
    /// The `{id}` of a CDR import: a positive whole number.
    func importID() throws -> Int64 {
        guard let id = parameters.get("id").flatMap(Int64.init), id > 0 else { throw RechargeError.invalidRequest("A CDR import id is a positive whole number.") }
        return id
    }
}

/// `POST /v1/cdrs/rerate`.
struct CDRRerateRequest: StrictlyDecodable {
    let from: String
    let until: String

    static let allowedFields: [String: Set<String>] = ["": ["from", "until"]]
}

/// `POST /v1/cdrs` and `GET /v1/cdrs/imports/{id}`.
struct CDRImportOutput: Encodable {
    let id: Int64
    let file: String
    let state: String
    let rows: Int64
    let imported: Int64
    let alreadyImported: Int64
    let rejected: Int64
    let charged: MoneyOutput?
    let unpaid: MoneyOutput?

    init(_ summary: CDRImportStore.Summary) {
        id = summary.importID
        file = summary.file
        state = summary.state
        rows = summary.rows
        imported = summary.imported
        alreadyImported = summary.alreadyImported
        rejected = summary.rejected
        let currency = summary.currency.flatMap { try? Currency(code: $0) }
        charged = currency.map { MoneyOutput(Money(micros: summary.charged, currency: $0)) }
        unpaid = currency.map { MoneyOutput(Money(micros: summary.unpaid, currency: $0)) }
    }
}

/// `GET /v1/cdrs/imports/{id}/rejects`.
struct CDRRejectsOutput: Encodable {
    struct Item: Encodable {
        let line: Int64
        let recordId: String?
        let code: String
        let reason: String
    }
    let importId: Int64
    let file: String
    let items: [Item]
}

/// `POST /v1/cdrs/rerate`.
struct CDRRerateOutput: Encodable {
    let examined: Int64
    let rerated: Int64
    let unchanged: Int64
    let unrated: Int64
    let skipped: Int64
    let debited: MoneyOutput?
    let refunded: MoneyOutput?
    let unpaidAdded: MoneyOutput?
    let unpaidCancelled: MoneyOutput?

    init(_ summary: CDRImportStore.RerateSummary) {
        examined = summary.examined
        rerated = summary.rerated
        unchanged = summary.unchanged
        unrated = summary.unrated
        skipped = summary.skipped
        let currency = summary.currency.flatMap { try? Currency(code: $0) }
        func money(_ micros: Int64) -> MoneyOutput? { currency.map { MoneyOutput(Money(micros: micros, currency: $0)) } }
        debited = money(summary.debited)
        refunded = money(summary.refunded)
        unpaidAdded = money(summary.unpaidAdded)
        unpaidCancelled = money(summary.unpaidCancelled)
    }
}

/// What the CDR routes answer.
enum CDRReply: ResponseGenerator {
    case summary(CDRImportStore.Summary, created: Bool)
    case rejects([CDRImportStore.StoredReject], importID: Int64, file: String)
    case rerate(CDRImportStore.RerateSummary)

    func response(from request: Request, context: some RequestContext) throws -> Response {
        switch self {
        case .summary(let summary, let created):
            var response = try JSONResponse.make(CDRImportOutput(summary), status: created ? .created : .ok)
            if created { response.headers[.location] = "/v1/cdrs/imports/\(summary.importID)" }
            return response
        case .rejects(let items, let importID, let file):
            return try JSONResponse.make(CDRRejectsOutput(importId: importID, file: file, items: items.map {
                .init(line: $0.lineNumber, recordId: $0.recordID, code: $0.code, reason: $0.reason)
            }))
        case .rerate(let summary):
            return try JSONResponse.make(CDRRerateOutput(summary))
        }
    }
}
