-- What the headless Neovim test drivers share (scripted.lua, e2e.lua and nextedit.lua here, and
-- tests/editors/clients/nvim_menus.lua): start the Neovim under test, talk to it over RPC,
-- wait and compare. Load it with dofile(); it returns the module.
local M = {}

--- A printer of timestamped lines, `[tag HH:MM:SS] ...`, flushed at once (the Python side reads
--- the driver's stdout as it goes).
function M.logger(tag)
  return function(fmt, ...)
    io.stdout:write(('[%s %s] '):format(tag, os.date('%H:%M:%S')) .. fmt:format(...) .. '\n')
    io.stdout:flush()
  end
end

--- Start a second Neovim (the same binary, --embed --headless) with `rtp` first on its
--- runtimepath and `init` as its init file, in `cwd` with `env`; the handle to drive it.
function M.child(rtp, init, env, cwd)
  local chan = vim.fn.jobstart({
    vim.v.progpath, '--embed', '--headless', '-n', '-i', 'NONE',
    '--cmd', 'set rtp^=' .. rtp,
    '-u', init,
  }, { rpc = true, env = env, cwd = cwd })
  assert(chan > 0, 'could not start the Neovim under test')
  local child = { chan = chan }
  --- Run `code` (a Lua chunk) in the child with `...` as its arguments; its value (nil for nil).
  function child.lua(code, ...)
    local value = vim.rpcrequest(chan, 'nvim_exec_lua', code, { ... })
    if value == vim.NIL then
      return nil
    end
    return value
  end
  --- Type `keys` as a user would: mappings and autocommands run.
  function child.input(keys)
    vim.rpcrequest(chan, 'nvim_input', keys)
  end
  --- Run an Ex command in the child.
  function child.command(cmd)
    vim.rpcrequest(chan, 'nvim_command', cmd)
  end
  --- The current buffer's lines.
  function child.lines()
    return vim.rpcrequest(chan, 'nvim_buf_get_lines', 0, 0, -1, false)
  end
  --- The first `n` rows of the child's screen, trailing blanks removed.
  function child.screen(n)
    return child.lua([[
      vim.cmd('redraw')
      local rows = {}
      for r = 1, ... do
        local cells = {}
        for c = 1, vim.o.columns do
          cells[c] = vim.fn.screenstring(r, c)
        end
        rows[r] = (table.concat(cells):gsub('%s+$', ''))
      end
      return rows
    ]], n)
  end
  --- The cursor in the child's current window, { row (1-based), byte column }.
  function child.cursor()
    return child.lua('return vim.api.nvim_win_get_cursor(0)')
  end
  --- Quit the child and wait up to `ms` for it to end.
  function child.quit(ms)
    pcall(vim.rpcrequest, chan, 'nvim_command', 'qall!')
    vim.fn.jobwait({ chan }, ms)
    vim.fn.jobstop(chan)
  end
  return child
end

--- Poll `probe` until it returns something other than nil or false (that value), or fail after
--- `ms` naming `what` and the last value seen.
function M.wait_for(what, ms, probe)
  local value
  local ok = vim.wait(ms, function()
    value = probe()
    return value ~= nil and value ~= false
  end, 20)
  if not ok then
    error(('timed out after %d ms waiting for %s (last: %s)'):format(ms, what, vim.inspect(value)), 2)
  end
  return value
end

--- A test runner reporting through `say`: `test(name, body)` runs one test (an error fails it,
--- with its traceback), `counts()` returns the tests passed and failed so far.
function M.suite(say)
  local passed, failed = 0, 0
  local function test(name, body)
    local started = vim.uv.now()
    local ok, err = xpcall(body, debug.traceback)
    if ok then
      passed = passed + 1
    else
      failed = failed + 1
    end
    say('%s %s (%d ms)%s', ok and 'PASS' or 'FAIL', name, vim.uv.now() - started, ok and '' or ('\n' .. err))
  end
  return test, function()
    return passed, failed
  end
end

function M.eq(want, got, what)
  if not vim.deep_equal(want, got) then
    error(('%s: expected %s, got %s'):format(what, vim.inspect(want), vim.inspect(got)), 2)
  end
end

return M
