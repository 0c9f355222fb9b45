import Foundation
import HTTPTypes
import Hummingbird
import RechargeCore
import RechargeStore

/// `POST /v1/lines/{msisdn}/voucher-redemptions`: a scratch card's PIN (and optionally its serial) credits the
/// line once. The handler decodes, calls ``VoucherStore/redeem(_:now:)`` and returns a ``VoucherReply``; voucher
/// refusals are replies too (not thrown) because two of them carry a `Retry-After`. The channel and the client are the API key's: a key
/// is issued for one channel and counted as one gateway, so a caller cannot spread guesses over other channels'
/// breakers or over client ids it makes up.
///
/// `POST /v1/voucher-batches/{id}/activations` and `POST /v1/voucher-approvals/{id}/approve` (admin): activation with
/// dual approval, where the two admins are two distinct admin API keys (the key id is recorded with each step).
struct VouchersController {
    let vouchers: VoucherStore?
    let clock: @Sendable () -> Date

    func addRoutes(to group: RouterGroup<RechargeRequestContext>) {
        let write = group.requiring(.write)
        let admin = group.requiring(.admin)
        write.post("lines/{msisdn}/voucher-redemptions", use: redeem)
        admin.post("voucher-batches/{id}/activations", use: activate)
        admin.post("voucher-approvals/{id}/approve", use: approve)
    }

    func store() throws -> VoucherStore {
        guard let vouchers else {
            throw Problem(status: .serviceUnavailable, code: "vouchers-not-configured", title: "Vouchers not configured",
                          detail: "This server has no voucher key (RECHARGE_VOUCHER_KEY); vouchers cannot be redeemed.")
        }
        return vouchers
    }

    @Sendable func redeem(_ request: Request, context: RechargeRequestContext) async throws -> VoucherReply {
        let key = try context.authenticatedKey()
        let msisdn = try context.msisdn()
        let body = try await JSONBody.decode(VoucherRedemptionRequest.self, from: request, context: context)
        let vouchers = try store()
        // Refused rather than ignored: a caller that thinks it redeems on another channel is told it does not.
        if let asked = body.channel, asked != key.voucherChannel {
            throw Problem(status: .forbidden, code: "voucher-channel-not-allowed", title: "Channel not allowed for this key",
                          detail: "API key '\(key.prefix)' is issued for the '\(key.voucherChannel.rawValue)' channel, not '\(asked.rawValue)'; "
                              + "issue a key for that channel (recharge apikey create --channel \(asked.rawValue)).")
        }
        let now = clock()
        do {
            // Optional here (integrations that send only the PIN keep working); typed as printed, spaces and dashes allowed.
            let serial = try body.serial.map { text throws(VoucherError) in try VoucherSerial.parse(typed: text) }
            let redemption = try await vouchers.redeem(
                VoucherRedemptionAttempt(msisdn: msisdn, pin: body.pin, serial: serial, channel: key.voucherChannel.rawValue, client: "key:\(key.id)",
                                         clientKind: .gateway), now: now)
            return .redeemed(redemption, line: msisdn)
        } catch let error as VoucherError {
            return .refused(error, now: now)
        }
    }

    /// The admin key behind an activation step, as dual approval compares it.
    static func voucherOperator(_ key: APIKeyRecord) -> VoucherOperator {
        VoucherOperator(name: "apikey:\(key.name)", apiKeyID: key.id)
    }

    static func id(_ request: Request, _ context: RechargeRequestContext) throws -> Int64 {
        guard let id = context.parameters.get("id").flatMap(Int64.init), id > 0 else { throw Problem.notFound(path: request.uri.path) }
        return id
    }

    /// Activates a batch or a range of it; above the approval threshold only records a request (202) that another
    /// admin key must approve.
    @Sendable func activate(_ request: Request, context: RechargeRequestContext) async throws -> VoucherReply {
        let key = try context.authenticatedKey()
        let batch = try Self.id(request, context)
        let body = try await JSONBody.decode(VoucherActivationRequest.self, from: request, context: context)
        let vouchers = try store()
        let now = clock()
        do {
            let range = try body.serials.map { text throws(VoucherError) in try VoucherSerialRange(parsing: text) }
            switch try await vouchers.activate(batch: batch, range: range, by: Self.voucherOperator(key), now: now) {
            case .activated(let count):
                return .activated(count, approval: nil)
            case .pendingApproval(let approvalID, let count, let value):
                return .pendingApproval(approvalID, cards: count, value: value)
            }
        } catch let error as VoucherError {
            return .refused(error, now: now)
        }
    }

    /// A second admin key approves a pending activation: refused (409) for the key that asked.
    @Sendable func approve(_ request: Request, context: RechargeRequestContext) async throws -> VoucherReply {
        let key = try context.authenticatedKey()
        let approval = try Self.id(request, context)
        let vouchers = try store()
        let now = clock()
        do {
            let count = try await vouchers.approve(approval, by: Self.voucherOperator(key), now: now)
            return .activated(count, approval: approval)
        } catch let error as VoucherError {
            return .refused(error, now: now)
        }
    }

    static func status(for error: VoucherError) -> HTTPResponse.Status {
        switch error {
        case .malformedPIN, .malformedSerial, .invalidBatch, .serialsOutsideBatch: .badRequest
        case .invalidPIN, .expired, .notActive, .blocked, .currencyMismatch: .unprocessableContent
        case .alreadyRedeemed, .illegalBatchTransition, .alreadyExported, .approvalBySameAdmin, .approvalNotPending: .conflict
        case .batchNotFound, .approvalNotFound: .notFound
        case .lockedOut: .tooManyRequests
        case .channelPaused: .serviceUnavailable
        }
    }
}

/// What the voucher routes answer, refusals included: each case knows its status and headers.
enum VoucherReply: ResponseGenerator {
    /// `201`; `Location` is the line's history, where the credit shows.
    case redeemed(VoucherRedemption, line: MSISDN)
    /// Cards activated now, directly or by the approval `approval`.
    case activated(Int64, approval: Int64?)
    /// `202`: above the threshold, recorded until another admin key approves request `id`.
    case pendingApproval(Int64, cards: Int64, value: Money)
    /// problem+json with the refusal's status; a lock-out or a paused channel says when to come back
    /// (`Retry-After`, whole seconds, at least 1).
    case refused(VoucherError, now: Date)

    func response(from request: Request, context: some RequestContext) throws -> Response {
        switch self {
        case .redeemed(let redemption, let msisdn):
            var response = try JSONResponse.make(VoucherRedemptionOutput(redemption), status: .created)
            response.headers[.location] = "/v1/lines/\(msisdn.e164)/transactions"
            return response
        case .activated(let count, let approval):
            return try JSONResponse.make(VoucherActivationOutput(state: "activated", activated: count, approvalId: approval, cards: count, value: nil))
        case .pendingApproval(let approvalID, let count, let value):
            return try JSONResponse.make(VoucherActivationOutput(state: "pending_approval", activated: 0, approvalId: approvalID, cards: count,
                                                                 value: MoneyOutput(value)), status: .accepted)
        case .refused(let error, let now):
            return Self.problem(error, request, now: now)
        }
    }

    private static func problem(_ error: VoucherError, _ request: Request, now: Date) -> Response {
        var problem = Problem(status: VouchersController.status(for: error), code: error.code, title: error.title, detail: error.detail)
        problem.instance = request.uri.path
        var response = problem.response()
        switch error {
        case .lockedOut(_, let until), .channelPaused(_, let until):
            response.headers[.retryAfter] = String(max(1, Int(until.timeIntervalSince(now).rounded(.up))))
        default:
            break
        }
        return response
    }
}

struct VoucherRedemptionRequest: StrictlyDecodable {
    let pin: String
    let serial: String?
    /// Optional, and if given it must be the key's channel. There is no `client` field any more: the client is the key.
    let channel: VoucherChannel?
    static let allowedFields: [String: Set<String>] = ["": ["pin", "serial", "channel"]]
}

struct VoucherActivationRequest: StrictlyDecodable {
    /// A serial or range `FIRST-LAST` inside the batch; absent: the whole batch.
    let serials: String?
    static let allowedFields: [String: Set<String>] = ["": ["serials"]]
}

struct VoucherActivationOutput: Encodable {
    /// `activated`, or `pending_approval` (another admin key must approve `approvalId`).
    let state: String
    let activated: Int64
    let approvalId: Int64?
    let cards: Int64
    let value: MoneyOutput?
}

struct VoucherRedemptionOutput: Encodable {
    let serial: String
    let batchId: Int64
    let msisdn: String
    let credited: MoneyOutput
    /// The catalog pack granted, for a pack card.
    let pack: String?
    let redeemedAt: String
    let operation: OperationOutput

    init(_ redemption: VoucherRedemption) {
        serial = String(redemption.serial)
        batchId = redemption.batchID
        msisdn = redemption.msisdn.e164
        credited = MoneyOutput(redemption.credited)
        pack = redemption.pack
        redeemedAt = RFC3339.format(redemption.redeemedAt)
        operation = OperationOutput(redemption.operation)
    }
}

/// Written by hand like top-up responses (a redemption is as hot a path); the same bytes as JSONEncoder's
/// sorted keys (VoucherAPITests checks).
extension VoucherRedemptionOutput: JSONWritable {
    func write(to json: inout JSONWriter) {
        json.object { json in
            json.field("batchId", batchId)
            json.key("credited")
            credited.write(to: &json)
            json.field("msisdn", msisdn)
            json.key("operation")
            operation.write(to: &json)
            json.field("pack", pack)
            json.field("redeemedAt", redeemedAt)
            json.field("serial", serial)
        }
    }
}
