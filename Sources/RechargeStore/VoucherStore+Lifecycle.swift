import Foundation
import RechargeCore
import SQLKit

/// What an activation did: the cards are active now, or the activation waits for a second admin.
public enum VoucherActivation: Sendable, Equatable {
    case activated(count: Int64)
    case pendingApproval(approvalID: Int64, count: Int64, value: Money)
}

/// Counts and value of a batch's cards per state (expired: unused cards of a batch past its expiry date).
public struct VoucherBatchReport: Sendable, Equatable {
    public let batch: VoucherBatch
    public let effectiveState: VoucherBatchState
    public let counts: [VoucherState: Int64]

    public func value(_ state: VoucherState) -> Money {
        batch.value(of: counts[state] ?? 0) ?? Money.zero(batch.denomination.faceValue.currency)
    }
}

/// One line of the audit log.
public struct VoucherAuditEntry: Sendable, Equatable {
    public let id: Int64
    public let batchID: Int64
    public let action: String
    public let serials: VoucherSerialRange
    public let affected: Int64
    public let actor: String
    public let detail: String?
    public let at: Date
}

extension VoucherStore {
    /// The printed cards arrived in stock: they can be activated from now on.
    public func receive(batch id: Int64, actor: String, now: Date) async throws -> VoucherBatch {
        let forUpdate = database.forUpdate
        return try await database.transaction(timeout: Self.bulkTimeout) { db in
            var batch = try await Self.loadBatch(db, id, lock: forUpdate)
            try Self.refuseIfExpired(batch, action: "received into stock", now: now)
            batch.state = try batch.state.applying(.receive, batch: id)
            try await Self.saveState(db, batch, now: now)
            try await Self.audit(db, batch: id, action: "receive", serials: batch.serials, affected: batch.count, actor: actor, detail: nil, now: now)
            return batch
        }
    }

    /// Activates the inactive and suspended cards of `range` (the whole batch if nil). Worth more than the
    /// approval threshold, it only records a request that another admin must ``approve(_:actor:now:)``.
    public func activate(batch id: Int64, range: VoucherSerialRange?, actor: String, now: Date) async throws -> VoucherActivation {
        try await activate(batch: id, range: range, by: VoucherOperator(name: actor), now: now)
    }

    /// Activates as ``activate(batch:range:actor:now:)``, recording the API key or OS user behind the name with a request
    /// for approval, so that the same key or user cannot approve it under another name.
    public func activate(batch id: Int64, range: VoucherSerialRange?, by requester: VoucherOperator, now: Date) async throws -> VoucherActivation {
        let actor = requester.description
        let forUpdate = database.forUpdate
        let approval = self.approval
        return try await database.transaction(timeout: Self.bulkTimeout) { db in
            let batch = try await Self.loadBatch(db, id, lock: forUpdate)
            let serials = try Self.checkRange(range, in: batch)
            try Self.refuseIfExpired(batch, action: "activated", now: now)
            _ = try batch.state.applying(.activate, batch: id)
            let count = try await Self.count(db, serials, states: VoucherAction.activate.transition.from)
            guard let value = batch.value(of: count) else { throw RechargeError.amountOverflow }
            if approval.needsSecondApproval(value) {
                guard let row = try await db.raw("""
                    INSERT INTO voucher_approvals (batch_id, first_serial, last_serial, value_micros, currency, state, requested_by, requested_at,
                                                   requested_key_id, requested_os_user)
                    VALUES (\(bind: id), \(bind: serials.first), \(bind: serials.last), \(bind: value.micros), \(bind: value.currency.code), 'pending',
                            \(bind: requester.name), \(bind: now.unixMicros), \(bind: requester.apiKeyID), \(bind: requester.osUser))
                    RETURNING id
                    """).first()
                else { throw DatabaseError.invariantViolated("INSERT … RETURNING gave no row") }
                let approvalID = try row.int64("id")
                try await Self.audit(db, batch: id, action: "activation_requested", serials: serials, affected: count, actor: actor,
                                     detail: "approval \(approvalID): \(value) above \(approval.threshold), needs a second admin", now: now)
                return .pendingApproval(approvalID: approvalID, count: count, value: value)
            }
            return .activated(count: try await Self.activate(db, batch: batch, serials: serials, actor: actor, detail: nil, now: now))
        }
    }

    /// A second admin approves a pending activation; it is carried out now. The admin who asked cannot approve.
    public func approve(_ approvalID: Int64, actor: String, now: Date) async throws -> Int64 {
        try await approve(approvalID, by: VoucherOperator(name: actor), now: now)
    }

    /// A second admin approves a pending activation; it is carried out now. Refused (``VoucherError/approvalBySameAdmin(approval:admin:)``)
    /// when the approver is the requester by ``VoucherApprovalPolicy/isSameAdmin(_:_:)``: the same API key, the same OS
    /// user or the same name. The approver's key or OS user is recorded with the decision.
    public func approve(_ approvalID: Int64, by approver: VoucherOperator, now: Date) async throws -> Int64 {
        let forUpdate = database.forUpdate
        let approval = self.approval
        let actor = approver.description
        return try await database.transaction(timeout: Self.bulkTimeout) { db in
            guard let row = try await db.raw("""
                SELECT batch_id, first_serial, last_serial, state, requested_by, requested_key_id, requested_os_user FROM voucher_approvals
                WHERE id = \(bind: approvalID)\(unsafeRaw: forUpdate)
                """).first()
            else { throw VoucherError.approvalNotFound(approvalID) }
            guard try row.string("state") == "pending" else { throw VoucherError.approvalNotPending(approvalID) }
            let requested = VoucherOperator(name: try row.string("requested_by"), osUser: try row.optional("requested_os_user", as: String.self),
                                            apiKeyID: try row.optional("requested_key_id", as: Int64.self))
            let requester = requested.description
            guard !approval.isSameAdmin(requested, approver) else { throw VoucherError.approvalBySameAdmin(approval: approvalID, admin: requester) }
            let batch = try await Self.loadBatch(db, try row.int64("batch_id"), lock: forUpdate)
            let serials = try VoucherSerialRange(first: try row.int64("first_serial"), last: try row.int64("last_serial"))
            try Self.refuseIfExpired(batch, action: "activated", now: now)
            try await db.raw("""
                UPDATE voucher_approvals SET state = 'approved', decided_by = \(bind: approver.name), decided_at = \(bind: now.unixMicros),
                    decided_key_id = \(bind: approver.apiKeyID), decided_os_user = \(bind: approver.osUser)
                WHERE id = \(bind: approvalID)
                """).run()
            return try await Self.activate(db, batch: batch, serials: serials, actor: actor,
                                           detail: "approval \(approvalID), requested by \(requester)", now: now)
        }
    }

    /// Suspends the active cards of `range` (the whole batch if nil); activating them again needs no new export.
    public func suspend(batch id: Int64, range: VoucherSerialRange?, actor: String, now: Date) async throws -> Int64 {
        try await change(batch: id, range: range, action: .suspend, event: .suspend, actor: actor, now: now)
    }

    /// Blocks every card of `range` (the whole batch if nil) not yet redeemed: lost or stolen cards, for good.
    public func block(batch id: Int64, range: VoucherSerialRange?, actor: String, now: Date) async throws -> Int64 {
        try await change(batch: id, range: range, action: .block, event: .block, actor: actor, now: now)
    }

    private func change(batch id: Int64, range: VoucherSerialRange?, action: VoucherAction, event: VoucherBatchEvent, actor: String, now: Date) async throws -> Int64 {
        let forUpdate = database.forUpdate
        return try await database.transaction(timeout: Self.bulkTimeout) { db in
            var batch = try await Self.loadBatch(db, id, lock: forUpdate)
            let serials = try Self.checkRange(range, in: batch)
            let next = try batch.state.applying(event, batch: id)
            let changed = try await Self.update(db, serials, action: action, now: now)
            // A box suspended or blocked leaves the rest of the batch as it was.
            if serials == batch.serials {
                batch.state = next
                try await Self.saveState(db, batch, now: now)
            }
            try await Self.audit(db, batch: id, action: action.rawValue, serials: serials, affected: changed, actor: actor, detail: nil, now: now)
            return changed
        }
    }

    static func activate(_ db: any SQLDatabase, batch: VoucherBatch, serials: VoucherSerialRange, actor: String, detail: String?, now: Date) async throws -> Int64 {
        var batch = batch
        batch.state = try batch.state.applying(.activate, batch: batch.id)
        let changed = try await update(db, serials, action: .activate, now: now)
        try await saveState(db, batch, now: now)
        try await audit(db, batch: batch.id, action: "activate", serials: serials, affected: changed, actor: actor, detail: detail, now: now)
        return changed
    }

    /// One conditional UPDATE over the serial range (a primary-key range scan).
    static func update(_ db: any SQLDatabase, _ serials: VoucherSerialRange, action: VoucherAction, now: Date) async throws -> Int64 {
        let transition = action.transition
        let rows = try await db.raw("""
            UPDATE vouchers SET state = \(bind: transition.to.rawValue), updated_at = \(bind: now.unixMicros)
            WHERE serial BETWEEN \(bind: serials.first) AND \(bind: serials.last) AND state IN (\(binds: transition.from.map(\.rawValue).sorted()))
            RETURNING serial
            """).all()
        return Int64(rows.count)
    }

    static func count(_ db: any SQLDatabase, _ serials: VoucherSerialRange, states: Set<VoucherState>) async throws -> Int64 {
        try await db.raw("""
            SELECT COUNT(*) AS n FROM vouchers
            WHERE serial BETWEEN \(bind: serials.first) AND \(bind: serials.last) AND state IN (\(binds: states.map(\.rawValue).sorted()))
            """).first()?.int64("n") ?? 0
    }

    static func checkRange(_ range: VoucherSerialRange?, in batch: VoucherBatch) throws -> VoucherSerialRange {
        guard let range else { return batch.serials }
        guard batch.serials.contains(range) else {
            throw VoucherError.serialsOutsideBatch(batch: batch.id, requested: range.description, batchRange: batch.serials.description)
        }
        return range
    }

    static func refuseIfExpired(_ batch: VoucherBatch, action: String, now: Date) throws {
        if batch.effectiveState(at: now) == .expired { throw VoucherError.illegalBatchTransition(batch: batch.id, from: .expired, action: action) }
    }

    static func saveState(_ db: any SQLDatabase, _ batch: VoucherBatch, now: Date) async throws {
        try await db.raw("UPDATE voucher_batches SET state = \(bind: batch.state.rawValue), updated_at = \(bind: now.unixMicros) WHERE id = \(bind: batch.id)").run()
    }

    // MARK: Reports

    /// Every batch (or one) with its cards counted per state.
    public func report(batch id: Int64? = nil, now: Date) async throws -> [VoucherBatchReport] {
        let batches: [VoucherBatch]
        if let id { batches = [try await batch(id)] } else { batches = try await self.batches() }
        return try await database.read(timeout: Self.bulkTimeout) { db in
            var reports: [VoucherBatchReport] = []
            for batch in batches {
                var counts: [VoucherState: Int64] = [:]
                for row in try await db.raw("""
                    SELECT state, COUNT(*) AS n FROM vouchers WHERE serial BETWEEN \(bind: batch.serials.first) AND \(bind: batch.serials.last) GROUP BY state
                    """).all() {
                    guard let stored = VoucherState(rawValue: try row.string("state")) else { continue }
                    // Unused cards of an expired batch are void, whatever they were.
                    let state = batch.effectiveState(at: now) == .expired && VoucherAction.expire.transition.from.contains(stored) ? .expired : stored
                    counts[state, default: 0] += try row.int64("n")
                }
                reports.append(VoucherBatchReport(batch: batch, effectiveState: batch.effectiveState(at: now), counts: counts))
            }
            return reports
        }
    }

    public func auditLog(batch id: Int64) async throws -> [VoucherAuditEntry] {
        try await database.read { db in
            try await db.raw("""
                SELECT id, batch_id, action, first_serial, last_serial, affected, actor, detail, created_at FROM voucher_audit
                WHERE batch_id = \(bind: id) ORDER BY id
                """).all().map { row in
                VoucherAuditEntry(id: try row.int64("id"), batchID: try row.int64("batch_id"), action: try row.string("action"),
                                  serials: try VoucherSerialRange(first: try row.int64("first_serial"), last: try row.int64("last_serial")),
                                  affected: try row.int64("affected"), actor: try row.string("actor"),
                                  detail: try row.optional("detail", as: String.self), at: try row.date("created_at"))
            }
        }
    }

    /// Pending activations waiting for a second admin.
    public func pendingApprovals() async throws -> [(id: Int64, batchID: Int64, serials: VoucherSerialRange, value: Money, requestedBy: String)] {
        try await database.read { db in
            try await db.raw("""
                SELECT id, batch_id, first_serial, last_serial, value_micros, currency, requested_by, requested_key_id, requested_os_user FROM voucher_approvals
                WHERE state = 'pending' ORDER BY id
                """).all().map { row in
                (try row.int64("id"), try row.int64("batch_id"),
                 try VoucherSerialRange(first: try row.int64("first_serial"), last: try row.int64("last_serial")),
                 Money(micros: try row.int64("value_micros"), currency: try Currency(code: try row.string("currency"))),
                 VoucherOperator(name: try row.string("requested_by"), osUser: try row.optional("requested_os_user", as: String.self),
                                 apiKeyID: try row.optional("requested_key_id", as: Int64.self)).description)
            }
        }
    }
}
