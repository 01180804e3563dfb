/// The worst-case cost of a CEL expression, estimated as cel-go's checker (`checker/cost.go`)
/// estimates it with the Kubernetes size estimator and options (has() costs nothing): the
/// number the API server multiplies by how often a rule can run and holds against its budgets.
struct CELCostEstimator {
    struct Estimate: Equatable {
        var min: UInt64
        var max: UInt64

        static func fixed(_ v: UInt64) -> Estimate { Estimate(min: v, max: v) }
        static let unknown = Estimate(min: 0, max: .max)

        func adding(_ o: Estimate) -> Estimate { Estimate(min: min.addingSaturated(o.min), max: max.addingSaturated(o.max)) }
        func multiplied(by o: Estimate) -> Estimate { Estimate(min: min.multipliedSaturated(o.min), max: max.multipliedSaturated(o.max)) }
        func union(_ o: Estimate) -> Estimate { Estimate(min: Swift.min(min, o.min), max: Swift.max(max, o.max)) }
        func scaled(_ factor: Double) -> Estimate { Estimate(min: Self.scale(min, factor), max: Self.scale(max, factor)) }

        private static func scale(_ x: UInt64, _ factor: Double) -> UInt64 {
            let product = (Double(x) * factor).rounded(.up)
            return product >= 18_446_744_073_709_551_616.0 ? .max : UInt64(product)
        }
    }

    private struct EntrySize { var isList: Bool; var key: Estimate; var value: Estimate }
    private struct Local { var path: [String]; var size: Estimate?; var entry: EntrySize? }

    /// cel-go's `common.StringTraversalCostFactor` and `RegexStringLengthCostFactor`.
    private static let stringTraversal = 0.1
    private static let regexLength = 0.25
    private static let listCreateBase: UInt64 = 10
    private static let mapCreateBase: UInt64 = 30

    private let root: CELDeclType
    private let types: [Int: CELType]
    private let overloads: [Int: [CELOverload]]
    private var paths: [Int: [String]] = [:]
    private var locals: [String: [Local]] = [:]
    private var sizes: [Int: Estimate] = [:]
    private var entrySizes: [Int: EntrySize] = [:]

    /// The most an expression checked against `self` of type `root` can cost.
    static func maxCost(of e: CELExpression, checker: CELChecker, root: CELDeclType) -> UInt64 {
        var estimator = CELCostEstimator(root: root, types: checker.types, overloads: checker.overloads)
        return estimator.cost(e).max
    }

    private init(root: CELDeclType, types: [Int: CELType], overloads: [Int: [CELOverload]]) {
        self.root = root
        self.types = types
        self.overloads = overloads
    }

    private mutating func cost(_ e: CELExpression) -> Estimate {
        switch e.kind {
        case .literal: return .fixed(0)
        case .ident(let name):
            paths[e.id] = locals[name]?.last?.path ?? [name]
            return .fixed(1)
        case .select(let operand, let field, let testOnly):
            let operandCost = cost(operand)
            if testOnly { return operandCost }
            var sum = operandCost
            switch types[operand.id] {
            case .map, .object: sum = sum.adding(.fixed(1))
            default: break
            }
            paths[e.id] = path(operand) + [field]
            return sum
        case .call(let function, let target, let args):
            return costCall(e, function: function, target: target, args: args)
        case .list(let elements):
            var sum = Estimate.fixed(0)
            var item = Estimate(min: elements.isEmpty ? 0 : .max, max: 0)
            for element in elements {
                sum = sum.adding(cost(element))
                item = item.union(sizeOrUnknown(element))
            }
            entrySizes[e.id] = EntrySize(isList: true, key: .fixed(1), value: item)
            return sum.adding(.fixed(Self.listCreateBase))
        case .map(let entries):
            var sum = Estimate.fixed(0)
            var key = Estimate(min: entries.isEmpty ? 0 : .max, max: 0), value = key
            for entry in entries {
                sum = sum.adding(cost(entry.key)).adding(cost(entry.value))
                key = key.union(sizeOrUnknown(entry.key))
                value = value.union(sizeOrUnknown(entry.value))
            }
            entrySizes[e.id] = EntrySize(isList: false, key: key, value: value)
            return sum.adding(.fixed(Self.mapCreateBase))
        case .comprehension(let c):
            return costComprehension(e, c)
        }
    }

    private mutating func costComprehension(_ e: CELExpression, _ c: CELComprehension) -> Estimate {
        var sum = cost(c.range).adding(cost(c.accuInit))
        locals[c.accuVar, default: []].append(Local(path: path(c.accuInit), size: size(c.accuInit), entry: entrySize(c.accuInit)))
        let entry = entrySize(c.range)
        let isList: Bool
        if let entry { isList = entry.isList } else if case .list = types[c.range.id] { isList = true } else { isList = false }
        locals[c.iterVar, default: []].append(Local(path: path(c.range) + [isList ? "@items" : "@keys"],
                                                    size: isList ? entry?.value : entry?.key, entry: nil))
        let loop = cost(c.condition)
        let step = cost(c.step)
        locals[c.iterVar]?.removeLast()
        sum = sum.adding(cost(c.result))
        locals[c.accuVar]?.removeLast()
        let count = sizeOrUnknown(c.range)
        sum = sum.adding(count.multiplied(by: step.adding(loop)))
        switch c.accuInit.kind {
        case .literal: if let s = size(c.accuInit) { sizes[e.id] = s }
        case .list, .map:
            sizes[e.id] = count
            if let stepEntry = entrySize(c.step) { entrySizes[e.id] = stepEntry }
        default: break
        }
        return sum
    }

    private mutating func costCall(_ e: CELExpression, function: String, target: CELExpression?, args: [CELExpression]) -> Estimate {
        if function == "dyn", args.count == 1 {
            let argCost = cost(args[0])
            if let s = size(args[0]) { sizes[e.id] = s }
            if let entry = entrySize(args[0]) { entrySizes[e.id] = entry }
            return Estimate.fixed(1).adding(argCost)
        }
        let argCosts = args.map { cost($0) }
        var sum = Estimate.fixed(0)
        if let target { sum = sum.adding(cost(target)) }
        let argSum = argCosts.reduce(Estimate.fixed(0)) { $0.adding($1) }
        var callCost = Estimate(min: .max, max: 0)
        var resultSize: Estimate?
        for overload in overloads[e.id] ?? [] {
            let (c, overloadSize) = functionCost(e, overload, target: target, args: args, argCosts: argCosts, argSum: argSum)
            callCost = callCost.union(c)
            if let overloadSize { resultSize = resultSize.map { $0.union(overloadSize) } ?? overloadSize }
            if overload == .indexList || overload == .indexMap, let container = args.first {
                resultSize = entrySize(container)?.value
                paths[e.id] = path(container) + [overload == .indexList ? "@items" : "@values"]
            }
            if resultSize == nil { resultSize = size(e) }
        }
        if let resultSize { sizes[e.id] = resultSize }
        return sum.adding(callCost)
    }

    private mutating func functionCost(_ e: CELExpression, _ overload: CELOverload, target: CELExpression?, args: [CELExpression],
                                       argCosts: [Estimate], argSum: Estimate) -> (Estimate, Estimate?) {
        switch overload {
        case .logical:
            return (Estimate(min: argCosts[0].min, max: argCosts[0].adding(argCosts[1]).max), nil)
        case .conditional:
            let result = sizeOrUnknown(args[1]).union(sizeOrUnknown(args[2]))
            if let a = entrySize(args[1]), let b = entrySize(args[2]) {
                entrySizes[e.id] = EntrySize(isList: a.isList, key: a.key.union(b.key), value: a.value.union(b.value))
            }
            return (argCosts[0].adding(argCosts[1].union(argCosts[2])), result)
        case .addString, .addBytes, .addList:
            let result = sizeOrUnknown(args[0]).adding(sizeOrUnknown(args[1]))
            if let a = entrySize(args[0]), let b = entrySize(args[1]) {
                entrySizes[e.id] = EntrySize(isList: b.isList, key: b.key.union(a.key), value: b.value.union(a.value))
            }
            if overload == .addList { return (Estimate.fixed(1).adding(argSum), result) }
            return (result.scaled(Self.stringTraversal).adding(argSum), result)
        case .compareSized:
            let smallest = Swift.min(sizeOrUnknown(args[0]).max, sizeOrUnknown(args[1]).max)
            return (Estimate(min: smallest > 0 ? 1 : 0, max: smallest).scaled(Self.stringTraversal).adding(argSum), nil)
        case .inList:
            return (sizeOrUnknown(args[1]).adding(argSum), nil)
        case .startsOrEndsWith:
            return (sizeOrUnknown(args[0]).scaled(Self.stringTraversal).adding(argSum), nil)
        case .contains:
            guard let target else { break }
            let text = sizeOrUnknown(target).scaled(Self.stringTraversal)
            return (text.multiplied(by: sizeOrUnknown(args[0]).scaled(Self.stringTraversal)).adding(argSum), nil)
        case .matches:
            // The global form `matches(s, re)` is another overload, estimated as constant.
            guard let target else { break }
            let textCost = sizeOrUnknown(target).adding(.fixed(1)).scaled(Self.stringTraversal)
            return (textCost.multiplied(by: sizeOrUnknown(args[0]).scaled(Self.regexLength)).adding(argSum), nil)
        case .constant, .indexList, .indexMap:
            break
        }
        return (Estimate.fixed(1).adding(argSum), nil)
    }

    // MARK: sizes and paths

    private func path(_ e: CELExpression) -> [String] {
        if case .ident(let name) = e.kind, let local = locals[name]?.last { return local.path }
        return paths[e.id] ?? []
    }

    private func entrySize(_ e: CELExpression) -> EntrySize? {
        if let s = entrySizes[e.id] { return s }
        if case .ident(let name) = e.kind { return locals[name]?.last?.entry }
        return nil
    }

    private mutating func sizeOrUnknown(_ e: CELExpression) -> Estimate { size(e) ?? .unknown }

    private mutating func size(_ e: CELExpression) -> Estimate? {
        if let s = sizes[e.id] { return s }
        switch e.kind {
        case .literal(let l):
            switch l {
            case .string(let s): return .fixed(UInt64(s.unicodeScalars.count))
            case .bytes(let b): return .fixed(UInt64(b.count))
            default: return .fixed(1)
            }
        case .list(let elements): return .fixed(UInt64(elements.count))
        case .map(let entries): return .fixed(UInt64(entries.count))
        default: break
        }
        if let s = estimateSize(path: path(e)) {
            sizes[e.id] = s
            return s
        }
        if types[e.id]?.isScalar == true { return .fixed(1) }
        if case .ident(let name) = e.kind, let s = locals[name]?.last?.size { return s }
        return nil
    }

    /// The Kubernetes size estimator: the schema's bound for the node at the path, which starts at
    /// a variable (`self`) and goes on by field name, `@items`, `@values` or `@keys`.
    private func estimateSize(path: [String]) -> Estimate? {
        guard !path.isEmpty, path[0] != celAccumulator else { return nil }
        var node = root
        for name in path.dropFirst() {
            switch name {
            case "@items", "@values":
                guard let element = node.element else { return nil }
                node = element
            case "@keys":
                guard node.kind == .map else { return nil }
                node = CELDeclType.mapKey
            default:
                guard let field = node.fields[name] else { return nil }
                node = field
            }
        }
        return Estimate(min: 0, max: UInt64(node.maxElements))
    }
}

extension UInt64 {
    func addingSaturated(_ o: UInt64) -> UInt64 {
        let (r, overflow) = addingReportingOverflow(o)
        return overflow ? .max : r
    }

    func multipliedSaturated(_ o: UInt64) -> UInt64 {
        let (r, overflow) = multipliedReportingOverflow(by: o)
        return overflow ? .max : r
    }
}
