namespace Qcow2Mount.Explorer;

/// <summary>
/// One entry of the <c>.qcow2</c> context menu: the key name under <c>shell</c>, the text Explorer shows, and the
/// launcher arguments placed before the quoted <c>"%1"</c>.
/// </summary>
public sealed record ExplorerVerb(string Id, string Text, string Arguments);
