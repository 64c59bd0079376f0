global using NUnit.Framework;
global using Qcow2Mount.TestSupport;
