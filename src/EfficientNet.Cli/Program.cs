System.Console.WriteLine("effnet");
