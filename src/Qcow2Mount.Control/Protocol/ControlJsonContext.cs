using System.Text.Json.Serialization;

namespace Qcow2Mount.Control.Protocol;

/// <summary>Source-generated (de)serialization for the protocol: camelCase names, nulls left out, no reflection.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    // Strict where it is cheap: a request's fields are few; unknown ones are ignored so newer clients can add fields.
    ReadCommentHandling = System.Text.Json.JsonCommentHandling.Disallow,
    AllowTrailingCommas = false)]
[JsonSerializable(typeof(ControlRequest))]
[JsonSerializable(typeof(ControlResponse))]
public sealed partial class ControlJsonContext : JsonSerializerContext;
