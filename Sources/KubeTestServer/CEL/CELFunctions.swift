/// The CEL functions the test server knows: the standard operators and functions of the
/// CEL language definition that CRD rules use. A rule calling anything else is refused when
/// its CRD is created, as a rule the server cannot evaluate.
enum CELFunctions {
    static func resolve(_ function: String, target: CELType?, args: [CELType]) throws(CELTypeError) -> (CELType, [CELOverload]) {
        if let target { return try member(function, target, args) }
        switch (function, args.count) {
        case ("_&&_", 2), ("_||_", 2):
            try expect(args, allOf: .bool, function)
            return (.bool, [.logical])
        case ("!_", 1), ("@not_strictly_false", 1):
            try expect(args, allOf: .bool, function)
            return (.bool, [.constant])
        case ("_?_:_", 3):
            guard args[0] == .bool || args[0] == .dyn else { throw mismatch(function, args) }
            return (args[1] == args[2] ? args[1] : (args[1] == .null ? args[2] : args[2] == .null ? args[1] : .dyn), [.conditional])
        case ("_==_", 2), ("_!=_", 2):
            return (.bool, [.compareSized])
        case ("_<_", 2), ("_<=_", 2), ("_>_", 2), ("_>=_", 2):
            guard comparable(args[0], args[1]) else { throw mismatch(function, args) }
            let sized = [CELType.string, .bytes].contains(args[0]) || args[0] == .dyn
            return (.bool, [sized ? .compareSized : .constant])
        case ("@in", 2):
            switch args[1] {
            case .list: return (.bool, [.inList])
            case .map: return (.bool, [.constant])
            case .dyn: return (.bool, [.inList, .constant])
            default: throw mismatch(function, args)
            }
        case ("_+_", 2):
            return try add(args)
        case ("_-_", 2), ("_*_", 2), ("_/_", 2), ("_%_", 2):
            guard args[0] == args[1] || args.contains(.dyn), [.int, .uint, .double, .dyn, .duration, .timestamp].contains(args[0]) else {
                throw mismatch(function, args)
            }
            return (args[0] == .dyn ? args[1] : args[0], [.constant])
        case ("-_", 1):
            guard [.int, .double, .dyn].contains(args[0]) else { throw mismatch(function, args) }
            return (args[0], [.constant])
        case ("_[_]", 2):
            switch args[0] {
            case .list(let element) where args[1] == .int || args[1] == .dyn: return (element, [.indexList])
            case .map(_, let value): return (value, [.indexMap])
            case .dyn: return (.dyn, [.indexList, .indexMap])
            default: throw mismatch(function, args)
            }
        case ("size", 1):
            return try member("size", args[0], [])
        case ("matches", 2):
            return try member("matches", args[0], [args[1]])
        case ("int", 1): return (.int, [.constant])
        case ("uint", 1): return (.uint, [.constant])
        case ("double", 1): return (.double, [.constant])
        case ("string", 1): return (.string, [.constant])
        case ("bool", 1): return (.bool, [.constant])
        case ("duration", 1) where args[0] == .string || args[0] == .duration || args[0] == .dyn: return (.duration, [.constant])
        case ("timestamp", 1) where args[0] == .string || args[0] == .timestamp || args[0] == .dyn: return (.timestamp, [.constant])
        case ("dyn", 1): return (.dyn, [.constant])
        case ("type", 1): return (.type, [.constant])
        default:
            throw CELTypeError(message: "found no matching overload for '\(function)' applied to '(\(args.map { "\($0)" }.joined(separator: ", ")))'")
        }
    }

    private static func member(_ function: String, _ target: CELType, _ args: [CELType]) throws(CELTypeError) -> (CELType, [CELOverload]) {
        switch (function, target, args.count) {
        case ("size", .string, 0), ("size", .bytes, 0), ("size", .list, 0), ("size", .map, 0), ("size", .dyn, 0):
            return (.int, [.constant])
        case ("contains", .string, 1), ("contains", .dyn, 1):
            return (.bool, [.contains])
        case ("startsWith", .string, 1), ("endsWith", .string, 1), ("startsWith", .dyn, 1), ("endsWith", .dyn, 1):
            return (.bool, [.startsOrEndsWith])
        case ("matches", .string, 1), ("matches", .dyn, 1):
            return (.bool, [.matches])
        default:
            throw CELTypeError(message: "found no matching overload for '\(function)' applied to '\(target).(\(args.map { "\($0)" }.joined(separator: ", ")))'")
        }
    }

    private static func add(_ args: [CELType]) throws(CELTypeError) -> (CELType, [CELOverload]) {
        switch (args[0], args[1]) {
        case (.string, .string): return (.string, [.addString])
        case (.bytes, .bytes): return (.bytes, [.addBytes])
        case (.list(let a), .list(let b)): return (.list(a == .dyn ? b : a), [.addList])
        case (.int, .int), (.uint, .uint), (.double, .double), (.duration, .duration), (.timestamp, .duration), (.duration, .timestamp):
            return (args[0] == .duration ? args[1] : args[0], [.constant])
        case (.dyn, let t), (let t, .dyn):
            return (t, [.constant, .addString, .addBytes, .addList])
        default:
            throw mismatch("_+_", args)
        }
    }

    private static func comparable(_ a: CELType, _ b: CELType) -> Bool {
        a == b || a == .dyn || b == .dyn || (Set([a, b].map { "\($0)" }).isSubset(of: ["int", "uint", "double"]))
    }

    private static func expect(_ args: [CELType], allOf type: CELType, _ function: String) throws(CELTypeError) {
        guard args.allSatisfy({ $0 == type || $0 == .dyn }) else { throw mismatch(function, args) }
    }

    private static func mismatch(_ function: String, _ args: [CELType]) -> CELTypeError {
        CELTypeError(message: "found no matching overload for '\(function)' applied to '(\(args.map { "\($0)" }.joined(separator: ", ")))'")
    }
}
