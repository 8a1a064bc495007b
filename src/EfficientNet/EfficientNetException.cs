namespace EfficientNet;

/// <summary>
/// An error caused by input the user can fix (an unknown variant, a bad option, a missing, corrupt or
/// mismatched file). Its message says what was expected, what was found and what to do; the command
/// line prints it as one line, without a stack trace.
/// </summary>
public class EfficientNetException : Exception
{
    /// <summary>Creates the exception with an actionable message.</summary>
    public EfficientNetException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with an actionable message and the low-level cause.</summary>
    public EfficientNetException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception with a generic message.</summary>
    public EfficientNetException()
    {
    }
}
