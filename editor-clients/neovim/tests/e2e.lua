-- End-to-end test of the plugin in a real, headless Neovim, against the real fim-lsp server
-- and model. Run with the Neovim under test:
--
--   FIM_LSP_SERVER=.venv/bin/fim-lsp nvim -l editor-clients/neovim/tests/e2e.lua
--
-- It starts a second Neovim (same binary, --embed --headless) with the plugin, drives it over
-- RPC as a user would (keys go through nvim_input, so mappings and autocmds run), and prints
-- one line per test and "N passed, M failed". FIM_LSP_NVIM_MODE=native tests the
-- vim.lsp.inline_completion path (Neovim 0.12+); the default tests the extmark renderer.
local here = vim.fs.dirname(vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p'))
local plugin = vim.fs.dirname(here)
local repo = vim.fs.dirname(vim.fs.dirname(plugin))
vim.opt.rtp:prepend(plugin) -- for fim_lsp.text in this driver
local mode = os.getenv('FIM_LSP_NVIM_MODE') or 'extmarks'
local server = os.getenv('FIM_LSP_SERVER') or (repo .. '/.venv/bin/fim-lsp')
local MODEL_MS = tonumber(os.getenv('FIM_LSP_E2E_MODEL_TIMEOUT_MS')) or 240000
local SUGGEST_MS = tonumber(os.getenv('FIM_LSP_E2E_SUGGEST_TIMEOUT_MS')) or 120000

local rpc = dofile(here .. '/rpc.lua')
local say = rpc.logger('nvim-e2e')

if vim.fn.executable(server) ~= 1 then
  say('fim-lsp server not found at %s (set FIM_LSP_SERVER)', server)
  os.exit(2)
end
if mode == 'native' and not (vim.lsp.inline_completion and vim.lsp.inline_completion.enable) then
  say('native mode needs vim.lsp.inline_completion (Neovim 0.12+); this is %s', tostring(vim.version()))
  os.exit(3)
end

local scratch = vim.fn.tempname()
vim.fn.mkdir(scratch .. '/proj', 'p')
local sample = scratch .. '/proj/sample.py'
local SAMPLE = { 'def add(a, b):', '    return a + b', '', '', 'def multiply(a, b):' }
vim.fn.writefile(SAMPLE, sample)

local env = {
  FIM_LSP_SERVER = server,
  FIM_LSP_NVIM_MODE = mode,
  FIM_LSP_SERVER_LOG = scratch .. '/fim-lsp.log',
  XDG_CONFIG_HOME = scratch .. '/config',
  XDG_DATA_HOME = scratch .. '/data',
  XDG_STATE_HOME = scratch .. '/state',
}
local child = rpc.child(plugin, here .. '/child_init.lua', env, scratch .. '/proj')
say('Neovim %s, mode %s, server %s', tostring(vim.version()), mode, server)

local lua, input, lines = child.lua, child.input, child.lines
local wait_for, eq = rpc.wait_for, rpc.eq

--- The ghost text on screen: the plugin's own extmark, or the native one (0.12+).
local GHOST = [[
  local native = ...
  local ns = vim.api.nvim_get_namespaces()[native and 'nvim.lsp.inline_completion' or 'fim_lsp.ghost']
  if not ns then return nil end
  local marks = vim.api.nvim_buf_get_extmarks(0, ns, 0, -1, { details = true })
  if #marks == 0 then return nil end
  local d = marks[1][4]
  local out = {}
  for _, chunk in ipairs(d.virt_text or {}) do out[#out + 1] = chunk[1] end
  local text = table.concat(out)
  for _, l in ipairs(d.virt_lines or {}) do
    local parts = {}
    for _, chunk in ipairs(l) do parts[#parts + 1] = chunk[1] end
    text = text .. '\n' .. table.concat(parts)
  end
  return text
]]
local function ghost()
  return lua(GHOST, mode == 'native')
end
local function visible()
  return lua("return require('fim_lsp').visible()")
end

--- What vim.snippet.expand inserts for a snippet without tabstops: unescaped, and each line
--- after the first indented like the cursor line.
local function expand_snippet(snippet, indent)
  local text = snippet:gsub('\\([\\$}])', '%1')
  return (text:gsub('\n', '\n' .. indent))
end

local test, counts = rpc.suite(say)

local suggestion -- the first suggestion seen, reused by later tests

test('the server attaches and reports ready', function()
  child.command('edit ' .. sample)
  eq('python', lua('return vim.bo.filetype'), 'filetype')
  wait_for('the fim_lsp client', 30000, function()
    return lua("return #vim.lsp.get_clients({ bufnr = 0, name = 'fim_lsp' })") == 1 or nil
  end)
  local status = wait_for('status ready', MODEL_MS, function()
    local s = lua([[
      local c = vim.lsp.get_clients({ bufnr = 0, name = 'fim_lsp' })[1]
      local st = c and require('fim_lsp').server_status[c.id]
      return st and st.state == 'ready' and require('fim_lsp').status() or nil
    ]])
    return s
  end)
  say('  %s', status)
  eq(mode, lua("return require('fim_lsp').mode()"), 'renderer')
  eq(true, lua([[
    local c = vim.lsp.get_clients({ bufnr = 0, name = 'fim_lsp' })[1]
    return c.server_capabilities.inlineCompletionProvider ~= nil
  ]]), 'server offers inlineCompletionProvider')
end)

test('typing shows ghost text from the model; <Tab> accepts it', function()
  input('Go    return ')
  wait_for('the typed line', 5000, function()
    return lines()[#SAMPLE + 1] == '    return ' or nil
  end)
  local shown = wait_for('ghost text', SUGGEST_MS, ghost)
  suggestion = shown
  say('  ghost text: %q', shown)
  assert(vim.trim(shown) ~= '', 'the ghost text is not blank')
  eq(SAMPLE, vim.list_slice(lines(), 1, #SAMPLE), 'ghost text is not buffer text')
  eq('    return ', lines()[#SAMPLE + 1], 'the buffer line before accepting')

  if mode == 'extmarks' then
    eq(shown, visible(), 'visible() matches the drawn text')
  end
  input('<Tab>')
  local want = vim.list_extend(vim.deepcopy(SAMPLE), vim.split('    return ' .. shown, '\n', { plain = true }))
  wait_for('the accepted suggestion in the buffer', 5000, function()
    return vim.deep_equal(lines(), want) or nil
  end)
  wait_for('the ghost text gone', 5000, function()
    return ghost() == nil or ghost() ~= shown or nil
  end)
  say('  buffer line now: %q', lines()[#SAMPLE + 1])
  input('<Esc>')
end)

if mode == 'extmarks' then
  test('matching typing keeps and trims the ghost; accept word, then line', function()
    local prefix = '    return '
    input('o<CR><CR>def subtract(a, b):<CR>' .. prefix)
    local row = #lines()
    wait_for('the typed line', 5000, function()
      return lines()[row] == prefix or nil
    end)
    local shown = wait_for('ghost text of 2+ characters', SUGGEST_MS, function()
      local g = ghost()
      return g and #g >= 2 and g:match('^[^%s]') and g or nil
    end)
    say('  ghost text: %q', shown)
    local first = shown:sub(1, 1)
    input(first == '<' and '<lt>' or first)
    wait_for('the ghost trimmed by the typed ' .. first, 5000, function()
      return ghost() == shown:sub(2) or nil
    end)
    eq(prefix .. first, lines()[row], 'the typed character is in the buffer')

    local rest = shown:sub(2)
    local word = require('fim_lsp.text').next_word(rest)
    input('<M-Right>')
    wait_for(('the next word %q accepted'):format(word), 5000, function()
      return lines()[row] == prefix .. first .. word or nil
    end)
    if #word < #rest then
      eq(rest:sub(#word + 1), ghost(), 'the ghost after accepting a word')
      local line = require('fim_lsp.text').next_line(rest:sub(#word + 1))
      input('<M-Down>')
      wait_for(('the line %q accepted'):format(line), 5000, function()
        return lines()[row] == prefix .. first .. word .. line:gsub('\n.*', '') or nil
      end)
    end
    say('  buffer line now: %q', lines()[row])
    input('<Esc>')
  end)

  test('divergent typing clears the ghost; <C-]> dismisses one', function()
    local prefix = '    return '
    input('o<CR><CR>def divide(a, b):<CR>' .. prefix)
    local row = #lines()
    wait_for('the typed line', 5000, function()
      return lines()[row] == prefix or nil
    end)
    local shown = wait_for('ghost text', SUGGEST_MS, ghost)
    say('  ghost text: %q', shown)
    local odd = shown:sub(1, 1) == '~' and '`' or '~'
    -- A long debounce, so that no new suggestion can replace the cleared one meanwhile.
    lua('require("fim_lsp").config.ghost_text.debounce_ms = 10000')
    input(odd)
    wait_for('the ghost cleared after typing ' .. odd, 2000, function()
      return lines()[row] == prefix .. odd and ghost() == nil or nil
    end)
    lua('require("fim_lsp").config.ghost_text.debounce_ms = 100')
    input('<BS>')
    local again = wait_for('ghost text again', SUGGEST_MS, ghost)
    input('<C-]>')
    wait_for('the ghost dismissed', 2000, function()
      return ghost() == nil or nil
    end)
    eq(prefix, lines()[row], 'dismiss leaves the buffer alone')
    say('  dismissed %q', again)
    input('<Esc>')
  end)
end

if mode == 'extmarks' and vim.lsp.completion and vim.lsp.completion.get then
  test('the completion menu offers the suggestion (vim.lsp.completion)', function()
    local prefix = '    return '
    -- Menu only: a long debounce keeps the ghost text out of the way.
    lua('require("fim_lsp").config.ghost_text.debounce_ms = 600000')
    input('o<CR><CR>def power(a, b):<CR>' .. prefix)
    wait_for('the typed line', 5000, function()
      return lines()[#lines()] == prefix or nil
    end)
    lua('vim.lsp.completion.get()')
    local item = wait_for('the completion menu', SUGGEST_MS, function()
      return lua([[
        if vim.fn.pumvisible() ~= 1 then return nil end
        local items = vim.fn.complete_info({ 'items' }).items
        local lsp = items[1] and items[1].user_data.nvim.lsp
        local ci = lsp and lsp.completion_item
        return ci and { abbr = items[1].abbr, newText = ci.textEdit.newText, snippet = ci.insertTextFormat == 2 }
      ]])
    end)
    say('  menu item: %q, inserts %q', item.abbr, item.newText)
    assert(vim.trim(item.newText) ~= '', 'the completion is not blank')
    local row = #lines()
    input('<C-y>')
    local text = item.snippet and expand_snippet(item.newText, '    ') or item.newText
    local want = vim.split(prefix .. text, '\n', { plain = true })
    wait_for('the whole suggestion in the buffer', 5000, function()
      return vim.deep_equal(vim.list_slice(lines(), row, row + #want - 1), want) or nil
    end)
    say('  buffer line now: %q', lines()[row])
    input('<Esc>')
  end)

  test("Neovim's default completeopt: a lone item is inserted as its whole first line", function()
    local prefix = '    return '
    input('o<CR><CR>def area(width, height):<CR>' .. prefix)
    local row = #lines()
    wait_for('the typed line', 5000, function()
      return lines()[row] == prefix or nil
    end)
    local completeopt = lua('local old = vim.o.completeopt; vim.o.completeopt = "menu,popup"; return old')
    lua([[
      _G.fim_done = nil
      vim.api.nvim_create_autocmd('CompleteDone', { once = true, callback = function()
        local ud = vim.v.completed_item.user_data
        _G.fim_done = { reason = vim.v.event.reason, item = ud and ud.nvim and ud.nvim.lsp.completion_item }
      end })
      vim.lsp.completion.get()
    ]])
    -- No menu: the lone item's word goes into the line at once, and typing on (here <Esc>)
    -- ends the completion with reason "discard", so nothing else is ever applied.
    wait_for('the item inserted', SUGGEST_MS, function()
      return lines()[row] ~= prefix or nil
    end)
    input('<Esc>')
    local done = wait_for('CompleteDone', 5000, function()
      return lua('return _G.fim_done')
    end)
    lua('vim.o.completeopt = ...', completeopt)
    local edit = done.item.textEdit
    local first = vim.split(done.item.insertTextFormat == 2 and expand_snippet(edit.newText, '    ')
      or edit.newText, '\n', { plain = true })[1]
    say('  %s: buffer line %q, item %q', done.reason, lines()[row], edit.newText)
    eq(prefix .. first, lines()[row], 'the whole first line of the suggestion')
  end)

  test('autotrigger: the menu opens by itself after a trigger character', function()
    local typed = '    return math'
    input('o<CR><CR>def norm(v):<CR>' .. typed)
    local row = #lines()
    wait_for('the typed line', 5000, function()
      return lines()[row] == typed or nil
    end)
    local autotrigger = [[
      local c = vim.lsp.get_clients({ bufnr = 0, name = 'fim_lsp' })[1]
      vim.lsp.completion.enable(false, c.id, 0)
      vim.lsp.completion.enable(true, c.id, 0, { autotrigger = ... })
    ]]
    lua(autotrigger, true) -- as `completion = { autotrigger = true }` in setup() does
    local completeopt = lua('local old = vim.o.completeopt; vim.o.completeopt = "menuone,noselect,popup"; return old')
    input('.')
    local abbr = wait_for('the menu after "."', SUGGEST_MS, function()
      return lua([[
        if vim.fn.pumvisible() ~= 1 then return nil end
        local items = vim.fn.complete_info({ 'items' }).items
        return items[1] and items[1].abbr or nil
      ]])
    end)
    say('  menu after %q: %q', typed .. '.', abbr)
    input('<C-e><Esc>')
    lua(autotrigger, false)
    lua('vim.o.completeopt = ...', completeopt)
  end)
end

local passed, failed = counts()
if failed > 0 and vim.fn.filereadable(env.FIM_LSP_SERVER_LOG) == 1 then
  local log = vim.fn.readfile(env.FIM_LSP_SERVER_LOG)
  say('--- tail of the fim-lsp log\n%s', table.concat(vim.list_slice(log, math.max(1, #log - 40)), '\n'))
end

-- Quit the editor under test; Neovim stops its language servers on the way out.
child.quit(10000)
vim.fn.delete(scratch, 'rf')
io.stdout:write(('nvim-e2e (%s): %d passed, %d failed\n'):format(mode, passed, failed))
os.exit(failed == 0 and 0 or 1)
