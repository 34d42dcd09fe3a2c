"""The browserpool program: the command line, the composition of the parts for each role, and the server.

The only package that imports all of orchestrator/, api/ and workers/; none of them imports it.
"""
